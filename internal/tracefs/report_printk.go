package tracefs

import (
	"bytes"
	"fmt"
	"strconv"
)

// reportRole is the model field a printk conversion fills.
type reportRole uint8

const (
	reportRoleNone reportRole = iota
	reportRoleRing
	reportRoleFence
	reportRoleContext
	reportRoleSeqno
	reportRoleID
	reportRoleEntity
	reportRoleJobCount
	reportRoleHWJobCount
)

// reportSeg is one conversion of a printk format with the literal text
// before it.
type reportSeg struct {
	lit  string // literal text before the conversion
	conv byte   // 'p' pointer, 'u' unsigned, 'd' signed, 's' string
	arg  string // format-file field name
	role reportRole
}

// reportFormat is a compiled PrintFormat.
type reportFormat struct {
	spec *Spec
	pf   *PrintFormat
	name string // spec.Name()
	segs []reportSeg
	tail string // literal text after the last conversion
	// expect is a short description of the format for warnings.
	expect string
}

// reportFields is what matching one body yields.
type reportFields struct {
	ring       []byte
	fence      uint64
	context    uint64
	seqno      uint64
	id         uint64
	entity     uint64
	jobCount   int32
	hwJobCount int32
}

func reportRoleOf(s *Spec, arg string) reportRole {
	switch arg {
	case "":
		return reportRoleNone
	case s.Ring:
		return reportRoleRing
	case s.Fence:
		return reportRoleFence
	case s.Context:
		return reportRoleContext
	case s.Seqno:
		return reportRoleSeqno
	case s.ID:
		return reportRoleID
	case s.Entity:
		return reportRoleEntity
	case s.JobCount:
		return reportRoleJobCount
	case s.HWJobCount:
		return reportRoleHWJobCount
	}
	return reportRoleNone
}

// compileReportFormat parses a TP_printk format string. It understands the
// conversions the GPU scheduler events use: %p, %s, %d, %u, %x with l/ll/h
// length modifiers, and %%.
func compileReportFormat(s *Spec, pf *PrintFormat) (*reportFormat, error) {
	f := &reportFormat{spec: s, pf: pf, name: s.Name()}
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
		f.segs = append(f.segs, reportSeg{lit: string(lit), conv: conv, arg: arg, role: reportRoleOf(s, arg)})
		lit = lit[:0]
	}
	if n != len(pf.Args) {
		return nil, fmt.Errorf("format %q of %s: %d conversions, %d args", p, s.Name(), n, len(pf.Args))
	}
	f.tail = string(lit)
	for i := 0; i+1 < len(f.segs); i++ {
		if f.segs[i].conv == 's' && f.segs[i+1].lit == "" {
			return nil, fmt.Errorf("format %q of %s: %%s directly followed by a conversion", p, s.Name())
		}
	}
	f.expect = reportExpect(pf.Printk)
	return f, nil
}

// reportExpect turns a printk format into the text a warning shows:
// conversions become "…", and the pointer/number types are hinted.
func reportExpect(p string) string {
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
func (f *reportFormat) match(body []byte, out *reportFields) bool {
	*out = reportFields{jobCount: -1, hwJobCount: -1}
	pos := 0
	for i := range f.segs {
		sg := &f.segs[i]
		if !bytes.HasPrefix(body[pos:], []byte(sg.lit)) {
			return false
		}
		pos += len(sg.lit)
		var v uint64
		var str []byte
		switch sg.conv {
		case 'p':
			var n int
			v, n = textParsePointer(body[pos:])
			if n == 0 {
				return false
			}
			pos += n
		case 'u', 'd':
			neg := false
			if sg.conv == 'd' && pos < len(body) && body[pos] == '-' {
				neg = true
				pos++
			}
			var n int
			v, n = textParseUint(body[pos:])
			if n == 0 {
				return false
			}
			pos += n
			if neg {
				v = uint64(-int64(v))
			}
		case 'x':
			if bytes.HasPrefix(body[pos:], []byte("0x")) {
				pos += 2
			}
			var n int
			v, n = textParseHex(body[pos:])
			if n <= 0 {
				return false
			}
			pos += n
		case 's':
			next := f.tail
			if i+1 < len(f.segs) {
				next = f.segs[i+1].lit
			}
			if next == "" {
				str = body[pos:]
				pos = len(body)
			} else {
				j := bytes.Index(body[pos:], []byte(next))
				if j < 0 {
					return false
				}
				str = body[pos : pos+j]
				pos += j
			}
		}
		switch sg.role {
		case reportRoleRing:
			out.ring = str
		case reportRoleFence:
			out.fence = v
		case reportRoleContext:
			out.context = v
		case reportRoleSeqno:
			out.seqno = v
		case reportRoleID:
			out.id = v
		case reportRoleEntity:
			out.entity = v
		case reportRoleJobCount:
			out.jobCount = int32(v)
		case reportRoleHWJobCount:
			out.hwJobCount = int32(v)
		}
	}
	rest := body[pos:]
	if !bytes.HasPrefix(rest, []byte(f.tail)) {
		return false
	}
	rest = rest[len(f.tail):]
	for _, c := range rest {
		if c != ' ' && c != '\t' {
			return false
		}
	}
	return true
}

// textParsePointer reads a %p value as trace-cmd (glibc "%p": 0x…, "(nil)")
// or the kernel (hashed, zero-padded hex without 0x, "(null)") prints it.
// It returns the value and the bytes consumed, 0 if there is none.
func textParsePointer(b []byte) (uint64, int) {
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
	v, m := textParseHex(b[n:])
	if m <= 0 {
		return 0, 0
	}
	return v, n + m
}

// textParseHex reads hex digits; n is 0 when there is none and -1 when the
// value overflows 64 bits.
func textParseHex(b []byte) (uint64, int) {
	var v uint64
	i := 0
	// 16 digits fit: no overflow check before that.
	for n := min(len(b), 16); i < n; i++ {
		d := textHexVal[b[i]]
		if d > 15 {
			return v, i
		}
		v = v<<4 | uint64(d)
	}
	for ; i < len(b); i++ {
		d := textHexVal[b[i]]
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

// textHexVal maps a byte to its hex digit value, 0xff for a non-digit.
var textHexVal = func() (t [256]byte) {
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

// textParseUint reads a decimal number; n is 0 when there is no digit or
// the number overflows uint64.
func textParseUint(b []byte) (uint64, int) {
	var v uint64
	i := 0
	// 19 digits fit: no overflow check before that.
	for n := min(len(b), 19); i < n && b[i] >= '0' && b[i] <= '9'; i++ {
		v = v*10 + uint64(b[i]-'0')
	}
	for ; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
		d := uint64(b[i] - '0')
		if v > (1<<64-1-d)/10 {
			return 0, 0
		}
		v = v*10 + d
	}
	return v, i
}

// textFieldValue is the writer's side: the value of one format-file field
// for ev. Fields the event model does not carry get deterministic values.
type textFieldValue struct {
	str string
	num uint64
}

// appendFormat renders f with the values vals (one per conversion).
func (f *reportFormat) appendFormat(b []byte, vals []textFieldValue) []byte {
	for i, sg := range f.segs {
		b = append(b, sg.lit...)
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
	return append(b, f.tail...)
}

// reportFormats holds the compiled formats of every Known spec, by event
// name (the text carries no system).
var reportFormats = func() map[string][]*reportFormat {
	m := make(map[string][]*reportFormat)
	for i := range Known {
		s := &Known[i]
		for j := range s.Formats {
			f, err := compileReportFormat(s, &s.Formats[j])
			if err != nil {
				panic("tracefs: Known: " + err.Error())
			}
			m[s.Event] = append(m[s.Event], f)
		}
	}
	return m
}()
