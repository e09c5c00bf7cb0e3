package reporttext

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"github.com/gpuwatch/gpuwatch/internal/tracepoint"
	"strconv"
	"strings"
)

// fieldRole is the model field a printk conversion fills.
type fieldRole uint8

const (
	roleNone fieldRole = iota
	roleRing
	roleFence
	roleContext
	roleSeqno
	roleID
	roleEntity
	roleJobCount
	roleHWJobCount
	roleDriver
	roleCount
)

// seg is one conversion of a printk format with the literal text
// before it.
type seg struct {
	lit  printkLit // literal text before the conversion
	conv byte      // 'p' pointer, 'u' unsigned, 'd' signed, 's' string
	arg  string    // format-file field name
	role fieldRole
}

// printkFormat is a compiled PrintFormat.
type printkFormat struct {
	spec *tracepoint.Spec
	pf   *tracepoint.PrintFormat
	name string // spec.Name()
	segs []seg
	tail printkLit // literal text after the last conversion
	// expect is a short description of the format for warnings.
	expect string
	// lineOK: matchLine can decide lines of this format. Not when a
	// literal holds a line end, or the format ends in white space (a
	// trimmed line has lost it).
	lineOK bool
}

// printkFields is what matching one body yields: the ring, and the
// numbers by role (v[roleNone] takes the ones the model ignores).
type printkFields struct {
	ring   []byte
	driver []byte
	v      [roleCount]uint64
}

// reset clears f; the counts default to -1 (absent).
func (f *printkFields) reset() {
	*f = printkFields{}
	f.v[roleJobCount] = 1<<64 - 1
	f.v[roleHWJobCount] = 1<<64 - 1
}

func (f *printkFields) jobCount() int32   { return int32(f.v[roleJobCount]) }
func (f *printkFields) hwJobCount() int32 { return int32(f.v[roleHWJobCount]) }

func roleOf(s *tracepoint.Spec, arg string) fieldRole {
	switch arg {
	case "":
		return roleNone
	case s.Ring:
		return roleRing
	case s.Fence:
		return roleFence
	case s.Context:
		return roleContext
	case s.Seqno:
		return roleSeqno
	case s.ID:
		return roleID
	case s.Entity:
		return roleEntity
	case s.JobCount:
		return roleJobCount
	case s.HWJobCount:
		return roleHWJobCount
	case s.Driver:
		return roleDriver
	}
	return roleNone
}

// compileReportFormat parses a TP_printk format string. It understands the
// conversions the GPU scheduler events use: %p, %s, %d, %u, %x with l/ll/h
// length modifiers, and %%.
func compileReportFormat(s *tracepoint.Spec, pf *tracepoint.PrintFormat) (*printkFormat, error) {
	f := &printkFormat{spec: s, pf: pf, name: s.Name()}
	var lit []byte
	p := pf.Printk
	n := 0
	for i := 0; i < len(p); i++ {
		c := p[i]
		if c != '%' {
			lit = append(lit, c)
			continue
		}
		i++
		if i < len(p) && p[i] == '%' {
			lit = append(lit, '%')
			continue
		}
		for i < len(p) && (p[i] == 'l' || p[i] == 'h' || p[i] == 'z') {
			i++
		}
		if i >= len(p) {
			return nil, fmt.Errorf("format %q of %s: truncated conversion", p, s.Name())
		}
		conv := p[i]
		switch conv {
		case 'p', 's', 'd', 'u', 'x':
		case 'i':
			conv = 'd'
		default:
			return nil, fmt.Errorf("format %q of %s: unsupported conversion %%%c", p, s.Name(), conv)
		}
		if n >= len(pf.Args) {
			return nil, fmt.Errorf("format %q of %s: more conversions than args", p, s.Name())
		}
		arg := pf.Args[n]
		n++
		f.segs = append(f.segs, seg{lit: newTextLit(string(lit)), conv: conv, arg: arg, role: roleOf(s, arg)})
		lit = lit[:0]
	}
	if n != len(pf.Args) {
		return nil, fmt.Errorf("format %q of %s: %d conversions, %d args", p, s.Name(), n, len(pf.Args))
	}
	f.tail = newTextLit(string(lit))
	for i := 0; i+1 < len(f.segs); i++ {
		if f.segs[i].conv == 's' && f.segs[i+1].lit.s == "" {
			return nil, fmt.Errorf("format %q of %s: %%s directly followed by a conversion", p, s.Name())
		}
	}
	f.expect = warnExpect(pf.Printk)
	f.lineOK = !strings.ContainsAny(pf.Printk, "\n\r") &&
		(len(f.tail.s) == 0 || !strings.ContainsRune(" \t", rune(f.tail.s[len(f.tail.s)-1])))
	return f, nil
}

// warnExpect turns a printk format into the text a warning shows:
// conversions become "…", and the pointer/number types are hinted.
func warnExpect(p string) string {
	var b []byte
	for i := 0; i < len(p); i++ {
		if p[i] != '%' {
			b = append(b, p[i])
			continue
		}
		i++
		for i < len(p) && (p[i] == 'l' || p[i] == 'h' || p[i] == 'z') {
			i++
		}
		if i < len(p) && p[i] == 'p' {
			b = append(b, "0x…"...)
		} else {
			b = append(b, "…"...)
		}
	}
	return string(b)
}

// match parses body against the format. It does not allocate: ring
// aliases body.
func (f *printkFormat) match(body []byte, out *printkFields) bool {
	_, r := f.scan(body, out, false)
	return r == matchYes
}

// matchResult is what scan makes of a body.
type matchResult int8

const (
	matchNo     matchResult = iota // the body is not in the format
	matchYes                       // it is
	matchUnsure                    // matchLine cannot tell: parseLine reads the line
)

// matchLine is match on the line that data starts with, whose end it
// finds on the way: data runs on past the line's '\n'. With matchYes
// it returns the index of that '\n' (the fields are match's on the line
// up to it); matchNo means match would refuse the line too. Whatever it
// cannot decide without knowing where the line ends (a line without
// '\n', a %s at the end, a mismatch after the first literal) is
// matchUnsure. Formats that end in white space (trimmed off a line
// before match sees it) are always unsure.
func (f *printkFormat) matchLine(data []byte, out *printkFields) (int, matchResult) {
	if !f.lineOK {
		return 0, matchUnsure
	}
	return f.scan(data, out, true)
}

// scan is match, or matchLine when line is set.
func (f *printkFormat) scan(body []byte, out *printkFields, line bool) (int, matchResult) {
	// fail is a mismatch before the line's end: matchLine knows that
	// only for the first literal.
	fail := matchNo
	if line {
		fail = matchUnsure
	}
	out.reset()
	pos := 0
	for i := range f.segs {
		sg := &f.segs[i]
		if !sg.lit.at(body, pos) {
			if i == 0 {
				// The line holds body's bytes up to its end, and a
				// literal has no line end: a mismatch here is one in
				// the line too, or the line is too short for it.
				return 0, matchNo
			}
			return 0, fail
		}
		pos += len(sg.lit.s)
		var v uint64
		var str []byte
		switch sg.conv {
		case 'p':
			// A kernel pointer: "0x" and 16 hex digits, read in one go.
			if len(body)-pos >= 19 && body[pos] == '0' && body[pos+1] == 'x' && hexVal[body[pos+18]] > 15 {
				if x, ok := hex16(body[pos+2:]); ok {
					v = x
					pos += 18
					break
				}
			}
			var n int
			if v, n = parsePointer(body[pos:]); n == 0 {
				return 0, fail
			}
			pos += n
		case 'u', 'd':
			neg := false
			if sg.conv == 'd' && pos < len(body) && body[pos] == '-' {
				neg = true
				pos++
			}
			// parseUint inline; 19 digits and more take the call.
			n := 0
			for pos+n < len(body) && n < 19 {
				d := body[pos+n] - '0'
				if d > 9 {
					break
				}
				v = v*10 + uint64(d)
				n++
			}
			if n == 19 {
				v, n = parseUint(body[pos:])
			}
			if n == 0 {
				return 0, fail
			}
			pos += n
			if neg {
				v = uint64(-int64(v))
			}
		case 'x':
			if hasLit(body, pos, "0x") {
				pos += 2
			}
			var n int
			v, n = parseHex(body[pos:])
			if n <= 0 {
				return 0, fail
			}
			pos += n
		case 's':
			next := &f.tail
			if i+1 < len(f.segs) {
				next = &f.segs[i+1].lit
			}
			if next.s == "" {
				if line {
					return 0, matchUnsure // the string runs to the line's end
				}
				str = body[pos:]
				pos = len(body)
			} else {
				// The string is short (a ring name): scan for the
				// next literal's first byte rather than call Index.
				j := pos
				for c := next.s[0]; j < len(body); j++ {
					if body[j] == c && next.at(body, j) {
						break
					}
					if line && body[j] == '\n' {
						return 0, matchUnsure
					}
				}
				if j == len(body) {
					return 0, fail
				}
				str = body[pos:j]
				pos = j
			}
		}
		switch sg.role {
		case roleRing:
			out.ring = str
		case roleDriver:
			out.driver = str
		default:
			out.v[sg.role] = v
		}
	}
	if !f.tail.at(body, pos) {
		return 0, fail
	}
	pos += len(f.tail.s)
	if line {
		// The white space a line's end loses to trimming, then its end.
		for pos < len(body) && (body[pos] == ' ' || body[pos] == '\t' || body[pos] == '\r') {
			pos++
		}
		if pos < len(body) && body[pos] == '\n' {
			return pos, matchYes
		}
		return 0, matchUnsure
	}
	for _, c := range body[pos:] {
		if c != ' ' && c != '\t' {
			return 0, matchNo
		}
	}
	return pos, matchYes
}

// hasLit reports whether b[pos:] starts with lit.
func hasLit(b []byte, pos int, lit string) bool {
	return len(b)-pos >= len(lit) && string(b[pos:pos+len(lit)]) == lit
}

// printkLit is a literal of a printk format with its first 16 bytes as
// little-endian words and masks: where the text has room, at compares it
// with two loads, inline, instead of a call.
type printkLit struct {
	s    string
	w, m [2]uint64
}

func newTextLit(s string) printkLit {
	l := printkLit{s: s}
	for i := 0; i < len(s) && i < 16; i++ {
		l.w[i/8] |= uint64(s[i]) << (8 * (i % 8))
		l.m[i/8] |= 0xff << (8 * (i % 8))
	}
	return l
}

// at reports whether b[pos:] starts with the literal.
func (l *printkLit) at(b []byte, pos int) bool {
	if len(b)-pos < 16 || len(l.s) > 16 {
		return hasLit(b, pos, l.s)
	}
	p := b[pos:]
	return (binary.LittleEndian.Uint64(p)^l.w[0])&l.m[0]|(binary.LittleEndian.Uint64(p[8:])^l.w[1])&l.m[1] == 0
}

// parsePointer reads a %p value as trace-cmd (glibc "%p": 0x…, "(nil)")
// or the kernel (hashed, zero-padded hex without 0x, "(null)") prints it.
// It returns the value and the bytes consumed, 0 if there is none.
func parsePointer(b []byte) (uint64, int) {
	if len(b) > 0 && b[0] == '(' {
		switch {
		case bytes.HasPrefix(b, []byte("(nil)")):
			return 0, 5
		case bytes.HasPrefix(b, []byte("(null)")):
			return 0, 6
		case bytes.HasPrefix(b, []byte("(____ptrval____)")):
			return 0, 16
		}
		return 0, 0
	}
	n := 0
	if len(b) >= 2 && b[0] == '0' && (b[1] == 'x' || b[1] == 'X') {
		n = 2
	}
	v, m := parseHex(b[n:])
	if m <= 0 {
		return 0, 0
	}
	return v, n + m
}

// parseHex reads hex digits; n is 0 when there is none and -1 when the
// value overflows 64 bits.
func parseHex(b []byte) (uint64, int) {
	var v uint64
	i := 0
	// Kernel pointers have 16 digits: read them in one go.
	if len(b) >= 16 {
		if x, ok := hex16(b); ok {
			v, i = x, 16
		}
	}
	// 16 digits fit: no overflow check before that.
	for n := min(len(b), 16); i < n; i++ {
		d := hexVal[b[i]]
		if d > 15 {
			return v, i
		}
		v = v<<4 | uint64(d)
	}
	for ; i < len(b); i++ {
		d := hexVal[b[i]]
		if d > 15 {
			return v, i
		}
		if v>>60 != 0 {
			return 0, -1
		}
		v = v<<4 | uint64(d)
	}
	return v, i
}

// hex16 reads b's first 16 bytes as hex digits (ok false when one is
// not). SWAR, both halves side by side: each byte's range checks are done
// on eight at once (the first byte in the low one); ge sets a byte's high
// bit where its low 7 bits are >= n, ascii clears the bytes >= 0x80.
func hex16(b []byte) (uint64, bool) {
	const lo, hi = 0x0101010101010101, 0x8080808080808080
	b = b[:16]
	x0 := binary.LittleEndian.Uint64(b)
	x1 := binary.LittleEndian.Uint64(b[8:])
	d0 := ((x0 | hi) - '0'*lo) & hi &^ (((x0 | hi) - ('9'+1)*lo) & hi)
	d1 := ((x1 | hi) - '0'*lo) & hi &^ (((x1 | hi) - ('9'+1)*lo) & hi)
	y0, y1 := x0|0x2020202020202020, x1|0x2020202020202020 // 'A'-'F' to 'a'-'f'
	l0 := ((y0 | hi) - 'a'*lo) & hi &^ (((y0 | hi) - ('f'+1)*lo) & hi)
	l1 := ((y1 | hi) - 'a'*lo) & hi &^ (((y1 | hi) - ('f'+1)*lo) & hi)
	if (d0|l0)&^x0&(d1|l1)&^x1&hi != hi {
		return 0, false
	}
	n0 := x0&0x0f0f0f0f0f0f0f0f + l0>>7*9
	n1 := x1&0x0f0f0f0f0f0f0f0f + l1>>7*9
	n0 = (n0&0x00ff00ff00ff00ff)<<4 | (n0>>8)&0x00ff00ff00ff00ff
	n1 = (n1&0x00ff00ff00ff00ff)<<4 | (n1>>8)&0x00ff00ff00ff00ff
	n0 = (n0&0x0000ffff0000ffff)<<8 | (n0>>16)&0x0000ffff0000ffff
	n1 = (n1&0x0000ffff0000ffff)<<8 | (n1>>16)&0x0000ffff0000ffff
	n0 = (n0&0xffffffff)<<16 | n0>>32
	n1 = (n1&0xffffffff)<<16 | n1>>32
	return n0<<32 | n1, true
}

// hexVal maps a byte to its hex digit value, 0xff for a non-digit.
var hexVal = func() (t [256]byte) {
	for i := range t {
		t[i] = 0xff
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = byte(c - '0')
	}
	for c := 'a'; c <= 'f'; c++ {
		t[c] = byte(c-'a') + 10
		t[c-'a'+'A'] = byte(c-'a') + 10
	}
	return t
}()

// parseUint reads a decimal number; n is 0 when there is no digit or
// the number overflows uint64. Small enough to inline; numbers of 20
// digits or more (which may overflow) are read again by parseUintLong.
func parseUint(b []byte) (uint64, int) {
	var v uint64
	i := 0
	for i < len(b) && b[i]-'0' <= 9 {
		v = v*10 + uint64(b[i]-'0')
		i++
	}
	if i >= 20 {
		return parseUintLong(b)
	}
	return v, i
}

// parseUintLong is parseUint with overflow checks.
func parseUintLong(b []byte) (uint64, int) {
	var v uint64
	i := 0
	for ; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
		d := uint64(b[i] - '0')
		if v > (1<<64-1-d)/10 {
			return 0, 0
		}
		v = v*10 + d
	}
	return v, i
}

// fieldValue is the writer's side: the value of one format-file field
// for ev. Fields the event model does not carry get deterministic values.
type fieldValue struct {
	str string
	num uint64
}

// appendFormat renders f with the values vals (one per conversion).
func (f *printkFormat) appendFormat(b []byte, vals []fieldValue) []byte {
	for i, sg := range f.segs {
		b = append(b, sg.lit.s...)
		v := vals[i]
		switch sg.conv {
		case 'p':
			if v.num == 0 {
				b = append(b, "(nil)"...)
			} else {
				b = append(b, "0x"...)
				b = strconv.AppendUint(b, v.num, 16)
			}
		case 'u':
			b = strconv.AppendUint(b, v.num, 10)
		case 'd':
			b = strconv.AppendInt(b, int64(int32(v.num)), 10)
		case 'x':
			b = strconv.AppendUint(b, v.num, 16)
		case 's':
			b = append(b, v.str...)
		}
	}
	return append(b, f.tail.s...)
}

// printkFormats holds the compiled formats of every Known spec, by event
// name (the text carries no system).
var printkFormats = func() map[string][]*printkFormat {
	m := make(map[string][]*printkFormat)
	for i := range tracepoint.Known {
		s := &tracepoint.Known[i]
		for j := range s.Formats {
			f, err := compileReportFormat(s, &s.Formats[j])
			if err != nil {
				panic("reporttext: Known: " + err.Error())
			}
			m[s.Event] = append(m[s.Event], f)
		}
	}
	return m
}()
