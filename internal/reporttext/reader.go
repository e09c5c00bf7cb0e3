package reporttext

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/gpuwatch/gpuwatch/internal/event"
)

// ErrNotReport means the input is not trace-cmd report text nor tracefs
// trace / trace_pipe text: none of its first lines is a trace line or a
// report header.
var ErrNotReport = errors.New("not a trace-cmd report or tracefs trace text")

// Limits of the text reader.
const (
	// sniffLines and sniffBytes bound how much input is read
	// before an input without any trace line is declared ErrNotReport.
	sniffLines = 1000
	sniffBytes = 1 << 20
	// maxLine is the longest line kept; longer lines are cut.
	maxLine = 1 << 20
	// maxWarnings is how many warnings are kept (all are counted).
	maxWarnings = 100
	// maxIntern bounds the interned ring / comm / name strings.
	maxIntern = 4096
)

// Warning is a line the reader skipped.
type Warning struct {
	File string
	Line int
	Msg  string
}

func (w Warning) Error() string { return fmt.Sprintf("%s:%d: %s", w.File, w.Line, w.Msg) }

// Stats counts what a Reader has read so far.
type Stats struct {
	Lines     int    // lines read, blank ones included
	Events    int    // events returned, KindLost markers included
	Unknown   int    // lines of events not in Known
	Malformed int    // lines skipped with a warning
	Lost      uint64 // sum of the "[LOST N EVENTS]" / "[N EVENTS DROPPED]" counts
	// UnknownByName counts Unknown per event name.
	UnknownByName map[string]int
	// Header fields, 0 when the input has none: CPUs from "cpus=N" (or the
	// "#P:N" of a tracefs header), Version from "version = N".
	CPUs    int
	Version int
}

// Reader is a streaming parser of `trace-cmd report` text (trace-cmd
// 2.x and 3.x, with or without -t, -l, instance prefixes) and of tracefs
// trace / trace_pipe text. It implements event.Source. Memory is bounded by
// the longest line (at most 1 MiB) and a small intern table; in the steady
// state a line costs no allocation.
type Reader struct {
	r    *bufio.Reader
	name string

	line      int
	nonBlank  int
	bytesRead int64
	recog     bool // saw a trace line or a header
	eof       bool
	err       error // sticky

	fracDigits int   // fraction digits of the last dotted time (6 or 9; 0 unknown, see parseBlock)
	fracDep    bool  // a bare-integer time was read with fracDigits 0
	lastTime   int64 // time of the last event, for LOST markers

	long   []byte
	intern map[string]string
	// internCache and fmtCache are small caches in front of intern and
	// printkFormats (see internBytes, lookupFormats).
	internCache [16]string
	// driverCache holds the fence drivers' names (see internDriver);
	// driverNext is the entry the next miss replaces.
	driverCache [4]string
	driverNext  uint
	fmtCache    [4]struct {
		name string
		fs   []*printkFormat
	}
	fmtNext uint
	warns   []Warning
	stats   Stats
	fields  printkFields
	heads   lineHeads
	one     [1]event.Event // NextBatch's batch before the parallel reader runs

	// The parallel reader (parallel.go).
	workers   int
	blockSize int
	par       *blockPipeline
	drain     func([]event.Event) // Drain's fn, for a pipeline started under it
}

// NewReader reads report text from r. name names the input in warnings
// and errors; "-" is shown as "<stdin>".
func NewReader(r io.Reader, name string) *Reader {
	if name == "-" {
		name = "<stdin>"
	}
	return &Reader{
		r:          bufio.NewReaderSize(r, 64<<10),
		name:       name,
		fracDigits: 6,
		intern:     make(map[string]string),
		stats:      Stats{UnknownByName: make(map[string]int)},
	}
}

// Warnings returns the first 100 warnings (Stats().Malformed counts all).
func (t *Reader) Warnings() []Warning { return t.warns }

// Stats returns the counters so far.
func (t *Reader) Stats() Stats { return t.stats }

func (t *Reader) warn(format string, args ...any) {
	t.stats.Malformed++
	if len(t.warns) < maxWarnings {
		t.warns = append(t.warns, Warning{File: t.name, Line: t.line, Msg: fmt.Sprintf(format, args...)})
	}
}

// readLine returns the next line without its line ending, or io.EOF.
func (t *Reader) readLine() ([]byte, error) {
	if t.eof {
		return nil, io.EOF
	}
	b, err := t.r.ReadSlice('\n')
	t.bytesRead += int64(len(b))
	if err == bufio.ErrBufferFull {
		t.long = append(t.long[:0], b...)
		for err == bufio.ErrBufferFull {
			if !t.recog && t.bytesRead >= sniffBytes {
				// Not a report so far and no line end in sight: stop
				// here, Next reports ErrNotReport.
				err = nil
				break
			}
			b, err = t.r.ReadSlice('\n')
			t.bytesRead += int64(len(b))
			if len(t.long) < maxLine {
				n := min(len(b), maxLine-len(t.long))
				t.long = append(t.long, b[:n]...)
			}
		}
		b = t.long
	}
	if err != nil {
		if err != io.EOF {
			return nil, err
		}
		t.eof = true
		if len(b) == 0 {
			return nil, io.EOF
		}
	}
	t.line++
	t.stats.Lines++
	return trimEOL(b), nil
}

// trimEOL drops a line's trailing '\n' and '\r' bytes.
func trimEOL(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}

// Next returns the next event. It returns io.EOF at the end of the input,
// and an error wrapping ErrNotReport if the input is not report text. Lines
// it cannot read are skipped and reported through Warnings.
func (t *Reader) Next() (event.Event, error) {
	if t.par != nil {
		return t.nextParallel()
	}
	if t.err != nil {
		return event.Event{}, t.err
	}
	if t.line == 0 && t.bytesRead == 0 {
		if p, _ := t.r.Peek(10); bytes.HasPrefix(p, []byte("\x17\x08\x44tracing")) {
			t.err = fmt.Errorf("%s: %w (it is a binary trace.dat file; convert it with trace-cmd report)", t.name, ErrNotReport)
			return event.Event{}, t.err
		}
	}
	for {
		if t.workers > 1 && t.recog && !t.eof {
			t.startPipeline()
			return t.nextParallel()
		}
		b, err := t.readLine()
		if err == io.EOF {
			if !t.recog && t.nonBlank > 0 {
				t.err = fmt.Errorf("%s: %w", t.name, ErrNotReport)
				return event.Event{}, t.err
			}
			t.err = io.EOF
			return event.Event{}, io.EOF
		}
		if err != nil {
			t.err = fmt.Errorf("reading %s: %w", t.name, err)
			return event.Event{}, t.err
		}
		var ev event.Event
		ok := t.parseLine(b, &ev)
		if !t.recog && (t.nonBlank >= sniffLines || t.bytesRead >= sniffBytes) {
			t.err = fmt.Errorf("%s: %w", t.name, ErrNotReport)
			return event.Event{}, t.err
		}
		if ok {
			t.stats.Events++
			return ev, nil
		}
	}
}

// parseLine handles one line; ok reports an event, stored in *ev (which
// is left in an undefined state otherwise).
func (t *Reader) parseLine(b []byte, ev *event.Event) bool {
	// Comment lines of the tracefs header start in column 0; an event line
	// whose comm starts with '#' is indented (comm is right-aligned in 16).
	comment := len(b) > 0 && b[0] == '#'
	line := trimRight(b)
	b = trimLeft(line)
	if len(b) == 0 {
		return false
	}
	t.nonBlank++
	if comment {
		t.parseComment(b)
		return false
	}
	// Event lines of the common shape go straight to the fast split: a
	// line that does not start like a header can only be one behind an
	// instance prefix, and a line the fast split takes has none.
	var ln eventLine
	tried, fast, split := !headerStart(b[0]), false, false
	if tried {
		var i int
		if i, fast = t.heads.split(line, len(line)-len(b), &ln); fast {
			split = splitName(b, i, &ln)
		}
	}
	if !split {
		if handled, ok := t.parseHeader(b, ev); handled {
			t.recog = true
			return ok
		}
		// As splitLine, without trying the fast split twice.
		switch {
		case !tried:
			split = splitLine(b, &ln)
		case !fast:
			split = splitScan(b, &ln)
		}
	}
	if !split {
		if tok := badTime(b); tok != nil {
			t.warn("expected a time as seconds.fraction after the CPU column, got %q", clip(tok))
		} else {
			t.warn("expected a trace line (comm-pid [cpu] time: event: fields) or a report header, got %q", clip(b))
		}
		return false
	}
	t.recog = true
	return t.parseEvent(&ln, ev)
}

// parseComment reads the tracefs trace header ("# tracer: nop",
// "# entries-in-buffer/entries-written: 10/10   #P:2"); other comments are
// ignored.
func (t *Reader) parseComment(b []byte) {
	c := trimSpace(b[1:])
	switch {
	case bytes.HasPrefix(c, []byte("tracer:")):
		t.recog = true
	case bytes.HasPrefix(c, []byte("entries-in-buffer/entries-written:")):
		t.recog = true
		if i := bytes.Index(c, []byte("#P:")); i >= 0 {
			if v, n := parseUint(c[i+3:]); n > 0 && v < 1<<20 {
				t.stats.CPUs = int(v)
			}
		}
	}
}

// parseHeader recognises the report header and marker lines, possibly
// behind an instance prefix. handled is false if b is none of them.
func (t *Reader) parseHeader(b []byte, ev *event.Event) (handled, ok bool) {
	for try := 0; try < 2; try++ {
		// Every header starts with 'c', 'v', 'C' or a digit: event lines
		// (comm first) are rejected here without scanning them.
		if len(b) > 0 && headerStart(b[0]) {
			if handled, ok = t.parseHeaderAt(b, ev); handled {
				return handled, ok
			}
		}
		// An instance prefix "name: " may precede any of them: the
		// first word then ends with ':' (an event line's first word is
		// its comm-pid).
		if try == 1 {
			break
		}
		i := bytes.IndexByte(b, ' ')
		if i <= 1 || b[i-1] != ':' {
			break
		}
		b = trimSpace(b[i+1:])
	}
	return false, false
}

func headerStart(c byte) bool {
	return c == 'c' || c == 'v' || c == 'C' || c >= '0' && c <= '9'
}

// parseHeaderAt recognises a header or marker line without instance prefix.
func (t *Reader) parseHeaderAt(b []byte, ev *event.Event) (handled, ok bool) {
	{
		switch {
		case bytes.HasPrefix(b, []byte("cpus=")):
			if v, n := parseUint(b[5:]); n > 0 && n == len(b)-5 && v < 1<<20 {
				t.stats.CPUs = int(v)
				return true, false
			}
		case bytes.HasPrefix(b, []byte("version = ")):
			if v, n := parseUint(b[10:]); n > 0 && v < 1<<20 {
				t.stats.Version = int(v)
				return true, false
			}
		case bytes.HasPrefix(b, []byte("CPU:")):
			if lost, ok := t.parseMarker(b[4:], ev); ok {
				return true, lost
			}
		case bytes.HasPrefix(b, []byte("CPU ")) && bytes.HasSuffix(b, []byte(" is empty")):
			if _, n := parseUint(b[4:]); n > 0 && 4+n+9 == len(b) {
				return true, false
			}
		case bytes.HasPrefix(b, []byte("CPU")) && bytes.Contains(b, []byte(" data recorded at offset=")):
			// show_cpu_stats / trace-output.c, followed by "    N bytes in size".
			if _, n := parseUint(b[3:]); n > 0 {
				return true, false
			}
		case bytes.Contains(b, []byte(" bytes in size")):
			// "N bytes in size" or "N bytes in size (M uncompressed)".
			if _, n := parseUint(b); n > 0 && bytes.HasPrefix(b[n:], []byte(" bytes in size")) {
				return true, false
			}
		}
	}
	return false, false
}

// parseMarker reads what follows "CPU:": "N [LOST M EVENTS]" (kernel trace
// text, trace-cmd 2.x), "N [M EVENTS DROPPED]" and "N [EVENTS DROPPED]"
// (trace-cmd 3.x), "N [SUBBUFFER START]" (trace-cmd --debug / -B breaks).
// ok reports a marker; lost a lost-events one, stored in *ev.
func (t *Reader) parseMarker(b []byte, ev *event.Event) (lost, ok bool) {
	cpu, n := parseUint(b)
	if n == 0 || cpu > 1<<20 || !bytes.HasPrefix(b[n:], []byte(" [")) {
		return false, false
	}
	m := b[n+2:]
	j := bytes.IndexByte(m, ']')
	if j < 0 {
		return false, false
	}
	m = m[:j]
	var count uint64
	switch {
	case bytes.HasPrefix(m, []byte("LOST ")) && bytes.HasSuffix(m, []byte(" EVENTS")):
		v, k := parseUint(m[5:])
		if k == 0 || 5+k+7 != len(m) {
			return false, false
		}
		count = v
	case bytes.HasSuffix(m, []byte(" EVENTS DROPPED")):
		v, k := parseUint(m)
		if k == 0 || k+15 != len(m) {
			return false, false
		}
		count = v
	case bytes.Equal(m, []byte("EVENTS DROPPED")):
		// Unknown count.
	case bytes.HasPrefix(m, []byte("SUBBUFFER START")):
		return false, true
	default:
		return false, false
	}
	t.stats.Lost = event.AddCount(t.stats.Lost, count)
	*ev = event.Event{Time: t.lastTime, CPU: int32(cpu), Kind: event.KindLost, Count: count, JobCount: -1, HWJobCount: -1}
	return true, true
}

// eventLine is the split of one event line; the slices alias the line.
type eventLine struct {
	instance []byte
	comm     []byte
	pid      int64
	cpu      int64
	time     []byte
	name     []byte
	body     []byte
	// timed: splitFast read the time, ns, with fracLen fraction
	// digits (parseTime's result, without the call).
	timed   bool
	fracLen int8
	ns      int64
}

// splitLine splits an event line:
//
//	[instance: ]comm-pid [(tgid)] [cpu] [flags] time: [(+diff)] name: body   (report, trace)
//	[instance: ]comm-pid cpu<flags> time: name: body                         (report -l)
//
// The time is the first "digits[.digits]:" token followed by a space (or
// the end) after a CPU column; the pid is the digits after the last '-'
// before the CPU column, so comm may hold spaces and dashes.
func splitLine(b []byte, ln *eventLine) bool {
	if i, ok := splitFast(b, ln); ok {
		return splitName(b, i, ln)
	}
	return splitScan(b, ln)
}

// splitScan is splitLine for every line shape: it tries each
// "digits[.digits]: " in turn.
func splitScan(b []byte, ln *eventLine) bool {
	ln.timed = false
	for i := 0; i < len(b); i++ {
		c := bytes.IndexByte(b[i:], ':')
		if c < 0 {
			return false
		}
		i += c
		if i+1 < len(b) && b[i+1] != ' ' {
			continue
		}
		j := i
		for j > 0 && (b[j-1] >= '0' && b[j-1] <= '9' || b[j-1] == '.') {
			j--
		}
		if j == i || b[j] == '.' || (j > 0 && b[j-1] != ' ') {
			continue
		}
		if !splitHead(b[:j], ln) {
			continue
		}
		ln.time = b[j:i]
		return splitName(b, i, ln)
	}
	return false
}

// splitName reads "[(+diff)] name: body" after the time's ':' at i.
func splitName(b []byte, i int, ln *eventLine) bool {
	rest := trimLeft(b[i+1:])
	if len(rest) > 1 && rest[0] == '(' && rest[1] == '+' {
		if k := bytes.IndexByte(rest, ')'); k > 0 {
			rest = trimLeft(rest[k+1:])
		}
	}
	k := 0
	for k < len(rest) && nameByte(rest[k]) {
		k++
	}
	if k == 0 || k >= len(rest) || rest[k] != ':' {
		return false
	}
	ln.name = rest[:k]
	ln.body = trimLeft(rest[k+1:])
	return true
}

// splitFast reads the head of the common line "comm-pid [cpu]
// sec.frac: " front to back, and the time with it; it returns the index of
// the time's ':'. It gives up (false: splitLine's general scan then
// decides) on anything else: a comm with ": " (an instance prefix, or an
// earlier "digits: " the general scan would try first), a tgid or flags
// column, a bare-integer time. Where it succeeds the general scan finds
// the same split: the first ':' followed by a space is then the time's.
func splitFast(b []byte, ln *eventLine) (int, bool) {
	var h lineHead
	if !splitHeadFast(b, &h) {
		return 0, false
	}
	return splitTimeFast(b, &h, ln)
}

// lineHead is what splitHeadFast reads from the head "comm-pid [cpu] "
// of a line: comm is b[c0:c1], and the time column starts at n.
type lineHead struct {
	c0, c1, n int
	pid, cpu  int64
}

// splitHeadFast is the head part of splitFast.
func splitHeadFast(b []byte, hd *lineHead) bool {
	p := bytes.IndexByte(b, '[')
	if p < 3 || b[p-1] != ' ' {
		return false
	}
	// "[cpu] "
	q := p + 1
	var cpu int64
	for q < len(b) && q-p <= 7 && b[q]-'0' <= 9 {
		cpu = cpu*10 + int64(b[q]-'0')
		q++
	}
	if q == p+1 || q+1 >= len(b) || b[q] != ']' || b[q+1] != ' ' {
		return false
	}
	// "comm-pid" before it.
	h := trimRight(b[:p])
	e := len(h)
	var pid int64
	for e > 0 && len(h)-e < 10 && h[e-1]-'0' <= 9 {
		e--
	}
	if e == len(h) || e < 2 || h[e-1] != '-' {
		return false
	}
	for _, c := range h[e:] {
		pid = pid*10 + int64(c-'0')
	}
	comm := trimLeft(h[:e-1])
	// A ": " in comm is an instance prefix, or a place the general scan
	// would try before the time: leave those lines to it. (A ':' followed
	// by anything else, as in "kworker/u8:2", is neither.)
	if pid > 1<<31-1 || indexColonSpace(comm) >= 0 {
		return false
	}
	*hd = lineHead{c0: e - 1 - len(comm), c1: e - 1, n: q + 2, pid: pid, cpu: cpu}
	return true
}

// splitTimeFast is the time part of splitFast, after the head hd.
func splitTimeFast(b []byte, hd *lineHead, ln *eventLine) (int, bool) {
	// " sec.frac:" — spaces only before it, as the general scan wants.
	i := hd.n
	for i < len(b) && b[i] == ' ' {
		i++
	}
	t0 := i
	// At most 9 digits of seconds: the nanoseconds then fit an int64.
	sec, i := digits9(b, i)
	if i == t0 || i >= len(b) || b[i] != '.' {
		return 0, false
	}
	i++
	f0 := i
	frac, i := digits9(b, i)
	if i == f0 || i >= len(b) || b[i] != ':' || (i+1 < len(b) && b[i+1] != ' ') {
		return 0, false
	}
	ln.instance, ln.comm, ln.pid, ln.cpu = nil, b[hd.c0:hd.c1], hd.pid, hd.cpu
	ln.time = b[t0:i]
	ln.timed, ln.fracLen = true, int8(i-f0)
	ln.ns = int64(sec*1_000_000_000 + frac*pow10[9-(i-f0)])
	return i, true
}

// digits9 reads up to 9 decimal digits at b[i:]: their value and
// the index after them.
func digits9(b []byte, i int) (uint64, int) {
	var v uint64
	for j := i; i < len(b) && i-j < 9 && b[i]-'0' <= 9; i++ {
		v = v*10 + uint64(b[i]-'0')
	}
	return v, i
}

// lineHeads remembers the heads of recent lines, byte for byte from the
// line's first column (the blanks that right-align the comm included, so
// a line is matched before it is trimmed): a trace interleaves the lines
// of a few tasks on a few CPUs, and a line whose first bytes are a
// remembered head's reads as it did (the head's parse depends on its
// bytes alone). Heads of up to 32 bytes are kept, as four little-endian
// words and masks.
type lineHeads struct {
	e    [headsN]headEntry
	next int
}

const headsN = 8

type headEntry struct {
	head prefix    // the head's bytes; empty (mask zero) when unused
	hd   lineHead  // offsets from the line's first column
	name nameCache // the event name of the head's last line (parseLineFast)
	// comm is the head's comm interned (internComm), once commOK.
	comm   string
	commOK bool
}

// nameCache is an event name as a line shows it after the time's ':' —
// blanks, the name, ':' and the blanks that pad it (trace-cmd aligns the
// bodies) — of up to 32 bytes, as four little-endian words and masks,
// with the name's formats: a task's lines are mostly of one event, and a
// compare is cheaper than two trims, a scan and a lookup.
type nameCache struct {
	p  prefix // the bytes from after the time's ':' to the body
	n  int    // their length, 0: none
	fs []*printkFormat
}

// at reports whether b, of at least 32 bytes, starts with the name and
// its blanks.
func (nm *nameCache) at(b []byte) bool {
	return nm.p.match(binary.LittleEndian.Uint64(b), binary.LittleEndian.Uint64(b[8:]),
		binary.LittleEndian.Uint64(b[16:]), binary.LittleEndian.Uint64(b[24:]))
}

// set makes nm the first n bytes of b, a name of formats fs.
func (nm *nameCache) set(b []byte, n int, fs []*printkFormat) {
	*nm = nameCache{n: n, fs: fs}
	nm.p.set(b, n)
}

// prefix is up to 32 bytes as four little-endian words and masks.
type prefix struct {
	w, m [4]uint64
}

// set makes p the first n (≤ 32) bytes of b.
func (p *prefix) set(b []byte, n int) {
	*p = prefix{}
	for i := range n {
		p.w[i/8] |= uint64(b[i]) << (8 * (i % 8))
		p.m[i/8] |= 0xff << (8 * (i % 8))
	}
}

// match reports whether the 32 bytes in x0..x3 start with p.
func (p *prefix) match(x0, x1, x2, x3 uint64) bool {
	return (x0^p.w[0])&p.m[0]|(x1^p.w[1])&p.m[1]|(x2^p.w[2])&p.m[2]|(x3^p.w[3])&p.m[3] == 0
}

// lookup returns the entry of the remembered head b (at least 32 bytes)
// starts with, nil if none.
func (c *lineHeads) lookup(b []byte) *headEntry {
	x0 := binary.LittleEndian.Uint64(b)
	x1 := binary.LittleEndian.Uint64(b[8:])
	x2 := binary.LittleEndian.Uint64(b[16:])
	x3 := binary.LittleEndian.Uint64(b[24:])
	for k := range c.e {
		e := &c.e[k]
		if e.head.match(x0, x1, x2, x3) && e.head.m[0] != 0 {
			return e
		}
	}
	return nil
}

// split is splitFast(line[lead:]) through the remembered heads: line
// is the line from its first column, lead the blanks before its head.
func (c *lineHeads) split(line []byte, lead int, ln *eventLine) (int, bool) {
	b := line[lead:]
	if len(line) < 32 {
		return splitFast(b, ln)
	}
	if e := c.lookup(line); e != nil {
		if i, ok := splitTimeFast(line, &e.hd, ln); ok {
			return i - lead, true
		}
		return 0, false
	}
	var hd lineHead
	if !splitHeadFast(b, &hd) {
		return 0, false
	}
	if lead+hd.n <= 32 {
		e := &c.e[c.next]
		c.next = (c.next + 1) % headsN
		e.hd = lineHead{c0: lead + hd.c0, c1: lead + hd.c1, n: lead + hd.n, pid: hd.pid, cpu: hd.cpu}
		e.name, e.comm, e.commOK = nameCache{}, "", false
		e.head.set(line, lead+hd.n)
	}
	return splitTimeFast(b, &hd, ln)
}

// pow10[n] is 10^n.
var pow10 = [...]uint64{1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000, 1000000000}

func nameByte(c byte) bool { return nameBytes[c] }

// nameBytes marks the bytes of event names.
var nameBytes = func() (t [256]bool) {
	for c := range t {
		t[c] = c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.'
	}
	return t
}()

// splitHead reads "[instance: ]comm-pid [(tgid)] [cpu] [flags]" or the
// latency form "comm-pid cpu<flags>".
func splitHead(h []byte, ln *eventLine) bool {
	h = trimRight(h)
	if len(h) == 0 {
		return false
	}
	var left []byte
	last, lastStart := lastToken(h)
	if cpu, ok := bracketCPU(last); ok {
		ln.cpu = cpu
		left = h[:lastStart]
	} else {
		prevEnd := trimRight(h[:lastStart])
		prev, prevStart := lastToken(prevEnd)
		if cpu, ok := bracketCPU(prev); ok && flags(last) {
			ln.cpu = cpu
			left = prevEnd[:prevStart]
		} else {
			// Latency form: the last token is the CPU number followed by
			// the flags.
			v, n := parseUint(last)
			if n == 0 || n > 7 || !flags(last[n:]) {
				return false
			}
			ln.cpu = int64(v)
			left = h[:lastStart]
		}
	}
	left = trimRight(left)
	// tracefs "trace" with the record-tgid option: "comm-pid (tgid)".
	if len(left) > 0 && left[len(left)-1] == ')' {
		k := bytes.LastIndexByte(left, '(')
		if k < 0 {
			return false
		}
		left = trimRight(left[:k])
	}
	d := bytes.LastIndexByte(left, '-')
	if d < 0 || d == len(left)-1 {
		return false
	}
	pid, n := parseUint(left[d+1:])
	if n != len(left)-d-1 || pid > 1<<31-1 {
		return false
	}
	ln.pid = int64(pid)
	comm := trimLeft(left[:d])
	ln.instance = nil
	if k := indexColonSpace(comm); k >= 0 {
		ln.instance = comm[:k]
		comm = trimLeft(comm[k+2:])
	}
	ln.comm = comm
	return true
}

// indexColonSpace is bytes.Index(b, []byte(": ")), quicker on the
// short strings it is given (comms: up to 16 bytes).
func indexColonSpace(b []byte) int {
	for k := 0; k+1 < len(b); k++ {
		if b[k] == ':' && b[k+1] == ' ' {
			return k
		}
	}
	return -1
}

// badTime finds, in a line that did not split, the token in the time
// column after a "[cpu]" column (and optional flags), if it ends with ':'.
func badTime(b []byte) []byte {
	for i := 0; i < len(b); i++ {
		if b[i] != '[' {
			continue
		}
		j := bytes.IndexByte(b[i:], ']')
		if j < 0 {
			return nil
		}
		if _, ok := bracketCPU(b[i : i+j+1]); !ok {
			continue
		}
		rest := b[i+j+1:]
		for k := 0; k < 2; k++ {
			rest = trimLeft(rest)
			e := bytes.IndexByte(rest, ' ')
			if e < 0 {
				e = len(rest)
			}
			tok := rest[:e]
			if len(tok) > 1 && tok[len(tok)-1] == ':' {
				return tok
			}
			if !flags(tok) {
				return nil
			}
			rest = rest[e:]
		}
		return nil
	}
	return nil
}

// bracketCPU reads "[007]".
func bracketCPU(tok []byte) (int64, bool) {
	if len(tok) < 3 || tok[0] != '[' || tok[len(tok)-1] != ']' {
		return 0, false
	}
	v, n := parseUint(tok[1 : len(tok)-1])
	if n == 0 || n != len(tok)-2 || n > 7 {
		return 0, false
	}
	return int64(v), true
}

// flags reports whether tok looks like an irqs-off / need-resched /
// hardirq / preempt-depth latency column ("d..2.", "....1", "dNh1.",
// "1d..2" less its CPU digits), possibly empty.
func flags(tok []byte) bool {
	if len(tok) > 12 {
		return false
	}
	for _, c := range tok {
		switch {
		case c == '.', c >= '0' && c <= '9', c >= 'a' && c <= 'f':
		case c == 'N', c == 'n', c == 'H', c == 'h', c == 's', c == 'S', c == 'X', c == 'z', c == 'Z', c == 'b', c == 'B', c == 'L', c == 'l', c == 'p', c == 'P', c == '+', c == '!', c == '#', c == '$', c == '@', c == '*', c == '>':
		default:
			return false
		}
	}
	return true
}

func lastToken(h []byte) ([]byte, int) {
	k := len(h)
	for k > 0 && h[k-1] != ' ' && h[k-1] != '\t' {
		k--
	}
	return h[k:], k
}

// parseTime reads "sec.frac" (any number of fraction digits, beyond 9
// ignored) or a bare integer in the unit of the last dotted time (µs by
// default: trace-cmd prints times below one unit-second as "%12llu").
func (t *Reader) parseTime(b []byte) (int64, bool) {
	dot := bytes.IndexByte(b, '.')
	if dot < 0 {
		v, n := parseUint(b)
		if n == 0 || n != len(b) {
			return 0, false
		}
		if t.fracDigits == 0 {
			t.fracDep = true
		}
		if t.fracDigits != 9 {
			if v > (1<<63-1)/1000 {
				return 0, false
			}
			v *= 1000
		}
		if v > 1<<63-1 {
			return 0, false
		}
		return int64(v), true
	}
	sec, n := parseUint(b[:dot])
	if n == 0 || n != dot || sec > (1<<63-1)/1_000_000_000 {
		return 0, false
	}
	frac := b[dot+1:]
	if len(frac) == 0 {
		return 0, false
	}
	var f uint64
	digits := 0
	for _, c := range frac {
		if c < '0' || c > '9' {
			return 0, false
		}
		if digits < 9 {
			f = f*10 + uint64(c-'0')
			digits++
		}
	}
	for k := digits; k < 9; k++ {
		f *= 10
	}
	total := sec*1_000_000_000 + f
	if total > 1<<63-1 {
		return 0, false
	}
	if len(frac) == 6 || len(frac) == 9 {
		t.fracDigits = len(frac)
	}
	return int64(total), true
}

func (t *Reader) parseEvent(ln *eventLine, ev *event.Event) bool {
	fs, known := t.lookupFormats(ln.name)
	if !known {
		name := t.internBytes(ln.name)
		t.stats.Unknown++
		t.stats.UnknownByName[name]++
		return false
	}
	ts, ok := ln.ns, true
	if ln.timed {
		if ln.fracLen == 6 || ln.fracLen == 9 {
			t.fracDigits = int(ln.fracLen)
		}
	} else {
		ts, ok = t.parseTime(ln.time)
	}
	if !ok {
		t.warn("expected a time as seconds.fraction, got %q", clip(ln.time))
		return false
	}
	var f *printkFormat
	for _, c := range fs {
		if c.match(ln.body, &t.fields) {
			f = c
			break
		}
	}
	// A last line without its newline may be a real tracepoint's line cut
	// short, whose remains ("fence=0xffff8800b2c4") read as name=value
	// fields: there, only a body with the probe's "(address)" is taken as
	// a probe event.
	probeOK := !t.eof || (len(ln.body) > 0 && ln.body[0] == '(')
	if f == nil && probeOK && matchFields(fs[0].spec, ln.body, &t.fields) {
		f = fs[0] // a dynamic (probe) event under the scheduler's name
	}
	if f == nil {
		if t.eof {
			t.warn("truncated last line: expected %q in %s", fs[0].expect, fs[0].name)
		} else {
			t.warn("expected %q in %s, got %q", fs[0].expect, fs[0].name, clip(ln.body))
		}
		return false
	}
	t.emit(ln, f, ts, t.internComm(ln.comm), ev)
	return true
}

// internComm is the Comm of an event line's comm: "" for "<...>" (the
// kernel did not know the task's name).
func (t *Reader) internComm(comm []byte) string {
	if string(comm) == "<...>" {
		return ""
	}
	return t.internBytes(comm)
}

// emit fills ev with the line ln read in format f (fields in t.fields);
// comm is internComm(ln.comm).
func (t *Reader) emit(ln *eventLine, f *printkFormat, ts int64, comm string, ev *event.Event) {
	fl := &t.fields
	// Field by field, every one written: a composite literal is built
	// aside and copied, which costs more than the fields.
	ring := ""
	if fl.ring != nil {
		ring = t.internBytes(fl.ring)
	}
	ev.Time = ts
	ev.CPU = int32(ln.cpu)
	ev.PID = int32(ln.pid)
	ev.Comm = comm
	ev.Kind = f.spec.Kind
	ev.Name = f.name
	ev.Ring = ring
	ev.Driver = ""
	if fl.driver != nil {
		ev.Driver = t.internDriver(fl.driver)
	}
	ev.Job = event.JobKey{Fence: fl.v[roleFence], Context: fl.v[roleContext], Seqno: fl.v[roleSeqno]}
	ev.ID = fl.v[roleID]
	ev.Entity = fl.v[roleEntity]
	ev.JobCount = fl.jobCount()
	ev.HWJobCount = fl.hwJobCount()
	ev.Count = 0
	t.lastTime = ts
}

// parseLineFast is parseLine for the common event line at the start of
// data, which runs on past the line: it finds the line's end on the way
// (matchLine) instead of before. It returns the length of the line with
// its '\n', or 0 and no change to t when the line is not of the kind it
// reads: a comment, blank or header line, a head lineHeads does not
// remember, an event name not known, a "(+diff)" column, a line that
// matchLine cannot decide. parseLine then reads the line, as it would
// have; TestParseLineFastIsParseLine and the parallel reader's tests
// against the sequential one hold them to the same result.
func (t *Reader) parseLineFast(data []byte, ev *event.Event) int {
	// The head is matched from the line's first column: a remembered
	// head was read by parseLine (through lineHeads.split), which refuses
	// comment and header lines, and its bytes include the first after the
	// blanks.
	if len(data) < 32 || data[0] == '#' {
		return 0
	}
	e := t.heads.lookup(data)
	if e == nil {
		return 0
	}
	var ln eventLine
	i, ok := splitTimeFast(data, &e.hd, &ln)
	if !ok {
		return 0
	}
	after := data[i+1:]
	// The name: the head's last one with its blanks (then the body
	// starts right after them, unless this line has more), or the run of
	// name bytes before a ':'.
	var fs []*printkFormat
	if nm := &e.name; nm.n > 0 && len(after) > 32 && nm.at(after) && after[nm.n] != ' ' && after[nm.n] != '\t' {
		ln.body, fs = after[nm.n:], nm.fs
	} else {
		rest := trimLeft(after)
		k := 0
		for k < len(rest) && nameByte(rest[k]) {
			k++
		}
		if k == 0 || k >= len(rest) || rest[k] != ':' {
			return 0 // a "(+diff)" column among others
		}
		ln.name = rest[:k]
		var known bool
		if fs, known = t.lookupFormats(ln.name); !known {
			return 0
		}
		ln.body = trimLeft(rest[k+1:])
		if n := len(after) - len(ln.body); n <= 32 {
			e.name.set(after, n, fs)
		}
	}
	for _, f := range fs {
		end, r := f.matchLine(ln.body, &t.fields)
		switch r {
		case matchNo:
			continue
		case matchUnsure:
			return 0
		}
		t.nonBlank++
		t.recog = true
		if ln.fracLen == 6 || ln.fracLen == 9 {
			t.fracDigits = int(ln.fracLen)
		}
		if !e.commOK {
			e.comm, e.commOK = t.internComm(ln.comm), true
		}
		t.emit(&ln, f, ln.ns, e.comm, ev)
		return len(data) - len(ln.body) + end + 1
	}
	return 0
}

// internBytes returns b as a string, shared between lines while the table
// has room (the map lookup with string(b) does not allocate).
func (t *Reader) internBytes(b []byte) string {
	// A small direct-mapped cache in front of the map: the few comms and
	// rings of a trace hit it without hashing the whole string.
	var slot *string
	if len(b) > 0 {
		slot = &t.internCache[(uint(len(b))*31+uint(b[0])*7+uint(b[len(b)-1]))%uint(len(t.internCache))]
		if *slot == string(b) {
			return *slot
		}
	}
	s := t.internMap(b)
	if slot != nil {
		*slot = s
	}
	return s
}

// internDriver is internBytes for a fence's driver name, behind a cache of
// its own: a fence line brings its driver beside its timeline and comm,
// and "amdgpu" and "gfx" share a slot of internCache. A trace has a few
// drivers, so the cache is scanned.
func (t *Reader) internDriver(b []byte) string {
	for i := range t.driverCache {
		if t.driverCache[i] == string(b) {
			return t.driverCache[i]
		}
	}
	s := t.internMap(b)
	t.driverCache[t.driverNext%uint(len(t.driverCache))] = s
	t.driverNext++
	return s
}

// internMap is the intern table's string for b (b's own while the table
// has room; the lookup with string(b) does not allocate).
func (t *Reader) internMap(b []byte) string {
	s, ok := t.intern[string(b)]
	if !ok {
		s = string(b)
		if len(t.intern) < maxIntern {
			t.intern[s] = s
		}
	}
	return s
}

// lookupFormats is printkFormats[string(name)] behind a one-entry cache.
func (t *Reader) lookupFormats(name []byte) ([]*printkFormat, bool) {
	for i := range t.fmtCache {
		c := &t.fmtCache[i]
		if c.fs != nil && c.name == string(name) {
			return c.fs, true
		}
	}
	fs, ok := printkFormats[string(name)]
	if ok {
		c := &t.fmtCache[t.fmtNext%uint(len(t.fmtCache))]
		t.fmtNext++
		c.name, c.fs = string(name), fs
	}
	return fs, ok
}

func trimSpace(b []byte) []byte { return trimRight(trimLeft(b)) }

func trimLeft(b []byte) []byte {
	// Eight spaces at a time: comms are right-aligned in 16 columns.
	for len(b) >= 8 && binary.LittleEndian.Uint64(b) == 0x2020202020202020 {
		b = b[8:]
	}
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	return b
}

func trimRight(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}

// clip shortens b for a warning.
func clip(b []byte) string {
	const max = 120
	if len(b) > max {
		return string(b[:max]) + "…"
	}
	return string(b)
}

var _ event.Drainer = (*Reader)(nil)
