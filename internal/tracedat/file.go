package tracedat

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Magic is how every trace.dat file begins.
const Magic = "\x17\x08\x44tracing"

// IsTraceDat reports whether head (the first bytes of a file) is a trace.dat header.
func IsTraceDat(head []byte) bool { return bytes.HasPrefix(head, []byte(Magic)) }

// Limits on what a file may claim, so that a corrupt length cannot make the
// reader allocate without bound.
const (
	maxMeta   = 256 << 20 // one metadata block (formats, cmdlines, a section)
	maxCount  = 1 << 20   // counts of systems, events, options
	maxCPUs   = 1 << 16
	maxChunks = 1 << 24
)

// ErrFormat is wrapped by every error about a malformed file.
var ErrFormat = errors.New("malformed trace.dat")

// Format is one event format file stored in the trace.dat.
type Format struct {
	System string // "ftrace" for the ftrace events
	Text   []byte // the content of events/SYSTEM/EVENT/format
}

// CPU locates one CPU's flyrecord data in the file.
type CPU struct {
	CPU    int
	Offset int64 // file offset of the data (of the chunk table when compressed)
	Size   int64 // bytes in the file
}

// Buffer is one trace instance's data: the top instance (Name "") or a
// named one.
type Buffer struct {
	Name     string
	Clock    string // trace clock of the instance ("" when the file does not say)
	PageSize int
	CPUs     []CPU
	// Latency buffers hold text instead of ring-buffer pages; gpuwatch
	// does not read them.
	Latency bool
	// compressed is true when the CPU data is stored in compressed chunks.
	compressed bool
}

// File is an opened trace.dat.
type File struct {
	Name        string // for messages
	Version     int
	ByteOrder   binary.ByteOrder
	LongSize    int
	PageSize    int
	Compression string // "none" or "" when uncompressed, else "zlib" or "zstd"
	HeaderPage  []byte // events/header_page
	HeaderEvent []byte // events/header_event
	Formats     []Format
	Cmdlines    []byte // saved_cmdlines: "pid comm" per line
	TraceClock  string
	Buffers     []Buffer

	r    io.ReaderAt
	size int64
	dec  decompressor
}

// Open parses the container of a trace.dat file of size bytes read through
// r. name is used in error messages.
func Open(r io.ReaderAt, size int64, name string) (*File, error) {
	f := &File{Name: name, r: r, size: size}
	if err := f.parse(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return f, nil
}

// cursor reads numbers and strings from a byte slice in the file's byte order.
type cursor struct {
	b   []byte
	off int
	bo  binary.ByteOrder
	err error
}

func (c *cursor) fail(what string) {
	if c.err == nil {
		c.err = fmt.Errorf("%w: %w %s at byte %d", ErrFormat, errTruncated, what, c.off)
	}
}

func (c *cursor) bytes(n int, what string) []byte {
	if c.err != nil {
		return nil
	}
	if n < 0 || len(c.b)-c.off < n {
		c.fail(what)
		return nil
	}
	v := c.b[c.off : c.off+n]
	c.off += n
	return v
}

func (c *cursor) u16(what string) uint16 {
	if b := c.bytes(2, what); b != nil {
		return c.bo.Uint16(b)
	}
	return 0
}

func (c *cursor) u32(what string) uint32 {
	if b := c.bytes(4, what); b != nil {
		return c.bo.Uint32(b)
	}
	return 0
}

func (c *cursor) u64(what string) uint64 {
	if b := c.bytes(8, what); b != nil {
		return c.bo.Uint64(b)
	}
	return 0
}

func (c *cursor) cstring(what string) string {
	if c.err != nil {
		return ""
	}
	i := bytes.IndexByte(c.b[c.off:], 0)
	if i < 0 {
		c.fail(what)
		return ""
	}
	s := string(c.b[c.off : c.off+i])
	c.off += i + 1
	return s
}

// blob reads a length-prefixed block whose length has lenSize bytes.
func (c *cursor) blob(lenSize int, what string) []byte {
	var n uint64
	if lenSize == 4 {
		n = uint64(c.u32(what + " size"))
	} else {
		n = c.u64(what + " size")
	}
	if c.err == nil && n > maxMeta {
		c.err = fmt.Errorf("%w: %s of %d bytes", ErrFormat, what, n)
		return nil
	}
	return c.bytes(int(n), what)
}

// readAt reads n bytes at off.
func (f *File) readAt(off int64, n int64, what string) ([]byte, error) {
	if off < 0 || n < 0 || n > maxMeta || off > f.size || f.size-off < n {
		return nil, fmt.Errorf("%w: %s at offset %d (%d bytes) is outside the file (%d bytes)", ErrFormat, what, off, n, f.size)
	}
	b := make([]byte, n)
	if _, err := f.r.ReadAt(b, off); err != nil && !(err == io.EOF && n == 0) {
		return nil, fmt.Errorf("reading %s: %w", what, err)
	}
	return b, nil
}

func (f *File) parse() error {
	// The initial format: magic, version string, endianness, long size,
	// page size. Read a generous prefix; v6 keeps all its metadata right
	// behind it, so read it through a streaming cursor over the file.
	head, err := f.readAt(0, min(f.size, 64), "file header")
	if err != nil {
		return err
	}
	if !IsTraceDat(head) {
		return fmt.Errorf("%w: no trace.dat magic", ErrFormat)
	}
	c := &cursor{b: head, off: len(Magic), bo: binary.LittleEndian}
	ver := c.cstring("version")
	if c.err != nil {
		return c.err
	}
	switch ver {
	case "6":
		f.Version = 6
	case "7":
		f.Version = 7
	default:
		return fmt.Errorf("%w: file version %q (gpuwatch reads versions 6 and 7)", ErrFormat, ver)
	}
	endian := c.bytes(1, "endianness")
	long := c.bytes(1, "long size")
	if c.err != nil {
		return c.err
	}
	if endian[0] == 1 {
		f.ByteOrder = binary.BigEndian
	} else {
		f.ByteOrder = binary.LittleEndian
	}
	c.bo = f.ByteOrder
	f.LongSize = int(long[0])
	f.PageSize = int(c.u32("page size"))
	if c.err != nil {
		return c.err
	}
	if f.PageSize <= 0 || f.PageSize > 1<<20 {
		return fmt.Errorf("%w: page size %d", ErrFormat, f.PageSize)
	}
	if f.Version == 6 {
		return f.parseV6(int64(c.off))
	}
	// v7: compression "name\0version\0", then the offset of the first
	// options section.
	f.Compression = c.cstring("compression name")
	c.cstring("compression version")
	first := c.u64("options offset")
	if c.err != nil {
		return c.err
	}
	if f.dec, err = newDecompressor(f.Compression); err != nil {
		return err
	}
	return f.parseV7(int64(first))
}

// parseV6 reads version 6's metadata, which follows the initial format
// directly. The metadata is read in one piece bounded by maxMeta (the CPU
// data follows it at page-aligned offsets).
// errTruncated marks a cursor running out of bytes: for the v6 metadata
// it means "read more", the block is read in growing steps rather than up
// to maxMeta at once (the file may be gigabytes of pages after it).
var errTruncated = errors.New("truncated")

func (f *File) parseV6(start int64) error {
	// Header info and the event formats.
	var end int64
	err := f.grow(start, func(c *cursor) error {
		f.Formats = nil
		if err := f.readHeaderInfo(c); err != nil {
			return err
		}
		if err := f.readFtraceFormats(c); err != nil {
			return err
		}
		if err := f.readEventFormats(c); err != nil {
			return err
		}
		end = start + int64(c.off)
		return c.err
	})
	if err != nil {
		return err
	}
	// kallsyms (megabytes, unused) is skipped without being read.
	ks, err := f.readAt(end, 4, "kallsyms size")
	if err != nil {
		return err
	}
	next := end + 4 + int64(f.ByteOrder.Uint32(ks))
	if next > f.size {
		return fmt.Errorf("%w: kallsyms runs past the end of the file", ErrFormat)
	}
	return f.grow(next, f.parseV6Rest)
}

// grow parses the metadata at start, reading it in growing steps (64 KiB,
// then ×4) until parse no longer runs out of bytes: the pages after it may
// be gigabytes.
func (f *File) grow(start int64, parse func(*cursor) error) error {
	limit := min(f.size-start, maxMeta)
	for n := int64(64 << 10); ; n *= 4 {
		n = min(n, limit)
		b, err := f.readAt(start, n, "metadata")
		if err != nil {
			return err
		}
		err = parse(&cursor{b: b, bo: f.ByteOrder})
		if err == nil || !errors.Is(err, errTruncated) || n >= limit {
			return err
		}
	}
}

// parseV6Rest parses what follows kallsyms: printk formats, cmdlines, the
// CPU count, options and the flyrecord table.
func (f *File) parseV6Rest(c *cursor) error {
	f.Buffers = nil
	c.blob(4, "printk formats")
	f.Cmdlines = c.blob(8, "cmdlines")
	cpus := int(c.u32("cpu count"))
	if c.err != nil {
		return c.err
	}
	if cpus < 0 || cpus > maxCPUs {
		return fmt.Errorf("%w: %d CPUs", ErrFormat, cpus)
	}
	top := Buffer{PageSize: f.PageSize}
	var named []Buffer
	for {
		kind := string(c.bytes(10, "data kind"))
		if c.err != nil {
			return c.err
		}
		switch kind {
		case "options  \x00":
			for i := 0; ; i++ {
				id := c.u16("option id")
				if c.err != nil {
					return c.err
				}
				if id == 0 {
					break
				}
				if i > maxCount {
					return fmt.Errorf("%w: too many options", ErrFormat)
				}
				data := c.blob(4, "option")
				if c.err != nil {
					return c.err
				}
				oc := &cursor{b: data, bo: f.ByteOrder}
				switch id {
				case optBuffer:
					off := oc.u64("buffer offset")
					name := oc.cstring("buffer name")
					if oc.err != nil {
						return oc.err
					}
					named = append(named, Buffer{Name: name, PageSize: f.PageSize, CPUs: []CPU{{Offset: int64(off)}}})
				case optTraceClock:
					f.TraceClock = parseClock(data)
				}
			}
			continue
		case "latency  \x00":
			top.Latency = true
		case "flyrecord\x00":
			top.CPUs = readCPUTable(c, cpus)
			if c.err != nil {
				return c.err
			}
		default:
			return fmt.Errorf("%w: expected \"options\", \"latency\" or \"flyrecord\" after the cpu count, found %q", ErrFormat, kind)
		}
		break
	}
	top.Clock = f.TraceClock
	f.Buffers = append(f.Buffers, top)
	// A v6 instance buffer's offset points at its own "flyrecord" block
	// holding one (offset, size) pair per CPU.
	for _, nb := range named {
		off := nb.CPUs[0].Offset
		b, err := f.readAt(off, min(f.size-off, int64(10+16*cpus)), "buffer "+nb.Name)
		if err != nil {
			return err
		}
		bc := &cursor{b: b, bo: f.ByteOrder}
		kind := string(bc.bytes(10, "buffer data kind"))
		nb.CPUs = nil
		nb.Clock = f.TraceClock
		switch kind {
		case "flyrecord\x00":
			nb.CPUs = readCPUTable(bc, cpus)
		case "latency  \x00":
			nb.Latency = true
		default:
			return fmt.Errorf("%w: buffer %q: expected \"flyrecord\" at offset %d, found %q", ErrFormat, nb.Name, off, kind)
		}
		if bc.err != nil {
			return fmt.Errorf("buffer %q: %w", nb.Name, bc.err)
		}
		f.Buffers = append(f.Buffers, nb)
	}
	return f.checkCPUs()
}

func readCPUTable(c *cursor, cpus int) []CPU {
	out := make([]CPU, 0, cpus)
	for i := 0; i < cpus; i++ {
		off := c.u64("cpu data offset")
		size := c.u64("cpu data size")
		if c.err != nil {
			return nil
		}
		out = append(out, CPU{CPU: i, Offset: int64(off), Size: int64(size)})
	}
	return out
}

// Option ids (trace-cmd's TRACECMD_OPTION_*).
const (
	optDone         = 0
	optBuffer       = 3
	optTraceClock   = 4
	optHeaderInfo   = 16
	optFtraceEvents = 17
	optEventFormats = 18
	optCmdlines     = 21
	optBufferText   = 22
)

// Section flags.
const secCompressed = 1

func parseClock(data []byte) string {
	// trace_clock content: "local global [mono] ..." — the selected one is bracketed.
	s := string(bytes.TrimRight(data, "\x00\n "))
	if i := bytes.IndexByte([]byte(s), '['); i >= 0 {
		if j := bytes.IndexByte([]byte(s[i:]), ']'); j > 0 {
			return s[i+1 : i+j]
		}
	}
	return s
}

// parseV7 walks the chain of options sections and reads the sections they point at.
func (f *File) parseV7(off int64) error {
	seen := map[int64]bool{}
	var header, ftrace, formats, cmdlines int64 = -1, -1, -1, -1
	for off != 0 {
		if seen[off] || len(seen) > 1024 {
			return fmt.Errorf("%w: options sections loop at offset %d", ErrFormat, off)
		}
		seen[off] = true
		id, body, err := f.section(off, "options")
		if err != nil {
			return err
		}
		if id != 0 {
			return fmt.Errorf("%w: section at offset %d is %d, expected options (0)", ErrFormat, off, id)
		}
		c := &cursor{b: body, bo: f.ByteOrder}
		off = 0
		for i := 0; ; i++ {
			if i > maxCount {
				return fmt.Errorf("%w: too many options", ErrFormat)
			}
			id := c.u16("option id")
			data := c.blob(4, "option")
			if c.err != nil {
				return c.err
			}
			oc := &cursor{b: data, bo: f.ByteOrder}
			switch id {
			case optDone:
				off = int64(oc.u64("next options offset"))
			case optHeaderInfo:
				header = int64(oc.u64("header info offset"))
			case optFtraceEvents:
				ftrace = int64(oc.u64("ftrace formats offset"))
			case optEventFormats:
				formats = int64(oc.u64("event formats offset"))
			case optCmdlines:
				cmdlines = int64(oc.u64("cmdlines offset"))
			case optTraceClock:
				f.TraceClock = parseClock(data)
			case optBuffer, optBufferText:
				b := Buffer{Latency: id == optBufferText, PageSize: f.PageSize}
				boff := int64(oc.u64("buffer offset"))
				b.Name = oc.cstring("buffer name")
				b.Clock = oc.cstring("buffer clock")
				if id == optBuffer {
					b.PageSize = int(oc.u32("buffer page size"))
					n := int(oc.u32("buffer cpu count"))
					if oc.err == nil && (n < 0 || n > maxCPUs) {
						return fmt.Errorf("%w: buffer %q has %d CPUs", ErrFormat, b.Name, n)
					}
					for i := 0; i < n && oc.err == nil; i++ {
						cpu := oc.u32("cpu id")
						o := oc.u64("cpu data offset")
						s := oc.u64("cpu data size")
						b.CPUs = append(b.CPUs, CPU{CPU: int(cpu), Offset: int64(o), Size: int64(s)})
					}
				}
				if oc.err != nil {
					return fmt.Errorf("buffer option: %w", oc.err)
				}
				if !b.Latency {
					// The buffer's flyrecord section header says whether
					// its CPU data is compressed.
					hdr, err := f.readAt(boff, 16, "buffer section header")
					if err != nil {
						return err
					}
					b.compressed = f.ByteOrder.Uint16(hdr[2:4])&secCompressed != 0
				}
				if b.PageSize <= 0 || b.PageSize > 1<<20 {
					return fmt.Errorf("%w: buffer %q page size %d", ErrFormat, b.Name, b.PageSize)
				}
				f.Buffers = append(f.Buffers, b)
			}
			if oc.err != nil {
				return oc.err
			}
			if id == optDone {
				break
			}
		}
	}
	if header < 0 {
		return fmt.Errorf("%w: no header info section", ErrFormat)
	}
	if _, body, err := f.section(header, "header info"); err != nil {
		return err
	} else if err := f.readHeaderInfo(&cursor{b: body, bo: f.ByteOrder}); err != nil {
		return err
	}
	if ftrace >= 0 {
		_, body, err := f.section(ftrace, "ftrace formats")
		if err != nil {
			return err
		}
		if err := f.readFtraceFormats(&cursor{b: body, bo: f.ByteOrder}); err != nil {
			return err
		}
	}
	if formats >= 0 {
		_, body, err := f.section(formats, "event formats")
		if err != nil {
			return err
		}
		if err := f.readEventFormats(&cursor{b: body, bo: f.ByteOrder}); err != nil {
			return err
		}
	}
	if cmdlines >= 0 {
		_, body, err := f.section(cmdlines, "cmdlines")
		if err != nil {
			return err
		}
		c := &cursor{b: body, bo: f.ByteOrder}
		f.Cmdlines = c.blob(8, "cmdlines")
		if c.err != nil {
			return c.err
		}
	}
	if f.TraceClock == "" {
		for _, b := range f.Buffers {
			if b.Name == "" {
				f.TraceClock = b.Clock
			}
		}
	}
	return f.checkCPUs()
}

// section reads the v7 section at off: its id and its (decompressed) body.
func (f *File) section(off int64, what string) (uint16, []byte, error) {
	hdr, err := f.readAt(off, 16, what+" section header")
	if err != nil {
		return 0, nil, err
	}
	id := f.ByteOrder.Uint16(hdr[0:2])
	flags := f.ByteOrder.Uint16(hdr[2:4])
	size := int64(f.ByteOrder.Uint64(hdr[8:16]))
	if flags&secCompressed == 0 {
		body, err := f.readAt(off+16, size, what+" section")
		return id, body, err
	}
	zh, err := f.readAt(off+16, 8, what+" compression header")
	if err != nil {
		return 0, nil, err
	}
	zsize := int64(f.ByteOrder.Uint32(zh[0:4]))
	usize := int64(f.ByteOrder.Uint32(zh[4:8]))
	z, err := f.readAt(off+24, zsize, what+" compressed section")
	if err != nil {
		return 0, nil, err
	}
	body, err := f.decompress(z, usize)
	if err != nil {
		return 0, nil, fmt.Errorf("decompressing %s section at offset %d: %w", what, off, err)
	}
	return id, body, nil
}

func (f *File) decompress(z []byte, usize int64) ([]byte, error) {
	if f.dec == nil {
		return nil, fmt.Errorf("%w: compressed data in a file without compression", ErrFormat)
	}
	if usize < 0 || usize > maxMeta {
		return nil, fmt.Errorf("%w: uncompressed size %d", ErrFormat, usize)
	}
	out, err := f.dec.decompress(z, int(usize))
	if err != nil {
		return nil, err
	}
	if int64(len(out)) != usize {
		return nil, fmt.Errorf("%w: decompressed %d bytes, header says %d", ErrFormat, len(out), usize)
	}
	return out, nil
}

func (f *File) readHeaderInfo(c *cursor) error {
	if string(c.bytes(12, "header_page tag")) != "header_page\x00" && c.err == nil {
		return fmt.Errorf("%w: expected \"header_page\"", ErrFormat)
	}
	f.HeaderPage = c.blob(8, "header_page")
	if string(c.bytes(13, "header_event tag")) != "header_event\x00" && c.err == nil {
		return fmt.Errorf("%w: expected \"header_event\"", ErrFormat)
	}
	f.HeaderEvent = c.blob(8, "header_event")
	return c.err
}

func (f *File) readFtraceFormats(c *cursor) error {
	n := int(c.u32("ftrace format count"))
	if c.err == nil && (n < 0 || n > maxCount) {
		return fmt.Errorf("%w: %d ftrace formats", ErrFormat, n)
	}
	for i := 0; i < n && c.err == nil; i++ {
		if t := c.blob(8, "ftrace format"); c.err == nil {
			f.Formats = append(f.Formats, Format{System: "ftrace", Text: t})
		}
	}
	return c.err
}

func (f *File) readEventFormats(c *cursor) error {
	systems := int(c.u32("system count"))
	if c.err == nil && (systems < 0 || systems > maxCount) {
		return fmt.Errorf("%w: %d event systems", ErrFormat, systems)
	}
	for s := 0; s < systems && c.err == nil; s++ {
		sys := c.cstring("system name")
		n := int(c.u32("event count"))
		if c.err == nil && (n < 0 || n > maxCount) {
			return fmt.Errorf("%w: %d events in system %q", ErrFormat, n, sys)
		}
		for i := 0; i < n && c.err == nil; i++ {
			if t := c.blob(8, "event format"); c.err == nil {
				f.Formats = append(f.Formats, Format{System: sys, Text: t})
			}
		}
	}
	return c.err
}

func (f *File) checkCPUs() error {
	for _, b := range f.Buffers {
		for _, c := range b.CPUs {
			if c.Offset < 0 || c.Size < 0 || c.Offset > f.size || f.size-c.Offset < c.Size {
				return fmt.Errorf("%w: buffer %q cpu %d data (offset %d, %d bytes) is outside the file (%d bytes): truncated?", ErrFormat, b.Name, c.CPU, c.Offset, c.Size, f.size)
			}
		}
	}
	return nil
}

// Buffer returns the buffer called name ("" is the top instance).
func (f *File) Buffer(name string) (*Buffer, bool) {
	for i := range f.Buffers {
		if f.Buffers[i].Name == name {
			return &f.Buffers[i], true
		}
	}
	return nil, false
}
