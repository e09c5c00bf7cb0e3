package input

import (
	"bufio"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"sort"
	"strings"

	"github.com/klauspost/compress/zstd"

	"github.com/gpuwatch/gpuwatch/internal/event"
	"github.com/gpuwatch/gpuwatch/internal/reporttext"
	"github.com/gpuwatch/gpuwatch/internal/tracedat"
)

// Formats, as reports name them.
const (
	FormatText = "trace-cmd report"
	FormatDat  = "trace.dat"
)

// DefaultMaxSpool is the largest trace.dat Open spools from a pipe or
// a compressed file when Options.MaxSpool is zero.
const DefaultMaxSpool = 4 << 30

// RecordHint is how to record a trace gpuwatch reads.
const RecordHint = "record with trace-cmd record -e gpu_scheduler -e amdgpu -e dma_fence"

// ErrNoGPUEvents is wrapped by the error of a trace that holds no GPU
// scheduler event (Input.Check).
var ErrNoGPUEvents = errors.New("no GPU scheduler events")

// Options tune Open. The zero Options read sequentially.
type Options struct {
	// Stdin is what the name "-" reads (default os.Stdin).
	Stdin io.Reader
	// Parallel is the number of text-parsing workers (0 or 1: one).
	Parallel int
	// ReadAhead decompresses on a goroutine of its own, beside the
	// parsing (worth it with more than one CPU).
	ReadAhead bool
	// MaxSpool caps a trace.dat spooled to a temporary file (read from
	// a pipe, or compressed); 0 means DefaultMaxSpool.
	MaxSpool int64
	// TempDir is where a trace.dat is spooled ("": os.TempDir()).
	TempDir string
}

// Stats is what the reader of an input counted; complete once its source
// returned io.EOF.
type Stats struct {
	Format      string // FormatText or FormatDat
	Compression string // "", "gzip" or "zstd"
	Lines       uint64 // lines read (text)
	Events      uint64 // events decoded
	Lost        uint64 // events the tracer reported lost
	Unknown     uint64 // lines (records) of events gpuwatch does not follow
	// UnknownByName counts the unknown lines by event name (text).
	UnknownByName map[string]uint64
	Malformed     uint64 // lines that could not be parsed
	// Warnings are the first warnings, each "file:line: what was
	// expected"; WarningsTotal counts all of them.
	Warnings      []string
	WarningsTotal uint64
}

// Input is an opened trace.
type Input struct {
	// Name is the name in messages ("<stdin>" for "-").
	Name   string
	src    event.Source
	stats  func() Stats
	closes []func() error
}

// Source is the trace's events, in time order, beginning with a
// KindPartial marker where some CPUs' events start late (Skew).
func (in *Input) Source() event.Source { return in.src }

// Stats reports what was read so far.
func (in *Input) Stats() Stats { return in.stats() }

// Close releases the file, the spool and the reader's goroutines.
func (in *Input) Close() error {
	var errs []error
	for i := len(in.closes) - 1; i >= 0; i-- {
		errs = append(errs, in.closes[i]())
	}
	in.closes = nil
	return errors.Join(errs...)
}

// Open opens name ("-": Options.Stdin) and picks the reader by content:
// gzip and zstd are unwrapped, then a trace.dat goes to the trace.dat
// decoder and anything else to the text parser.
func Open(name string, opt Options) (_ *Input, err error) {
	in := &Input{Name: name}
	defer func() {
		if err != nil {
			in.Close()
		}
	}()
	var r io.Reader
	var f *os.File
	if name == "-" {
		in.Name = "<stdin>"
		r = opt.Stdin
		if r == nil {
			r = os.Stdin
		}
	} else {
		f, err = os.Open(name)
		if err != nil {
			var pe *fs.PathError
			if errors.As(err, &pe) {
				err = fmt.Errorf("%s: %w", name, pe.Err)
			}
			return nil, err
		}
		in.closes = append(in.closes, f.Close)
		if fi, err := f.Stat(); err == nil && fi.IsDir() {
			return nil, fmt.Errorf("%s: is a directory, not a trace", name)
		}
		r = f
	}
	br := bufio.NewReaderSize(r, 64<<10)
	head, _ := br.Peek(len(tracedat.Magic))
	compression := ""
	var zin io.Reader
	switch {
	case len(head) >= 2 && head[0] == 0x1f && head[1] == 0x8b:
		compression = "gzip"
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("%s: reading gzip header: %w", in.Name, err)
		}
		zin = zr
	case len(head) >= 4 && string(head[:4]) == "\x28\xb5\x2f\xfd":
		compression = "zstd"
		zr, err := zstd.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("%s: reading zstd header: %w", in.Name, err)
		}
		in.closes = append(in.closes, func() error { zr.Close(); return nil })
		zin = zr
	case len(head) >= 6 && string(head[:6]) == "\xfd7zXZ\x00":
		return nil, fmt.Errorf("%s: xz-compressed input is not supported: decompress it first (xz -d), or compress with gzip or zstd", in.Name)
	case len(head) >= 3 && string(head[:3]) == "BZh":
		return nil, fmt.Errorf("%s: bzip2-compressed input is not supported: decompress it first (bunzip2), or compress with gzip or zstd", in.Name)
	}
	if zin != nil {
		if opt.ReadAhead {
			ra := newReadAhead(zin, 512<<10, 2)
			in.closes = append(in.closes, func() error { ra.Close(); return nil })
			zin = ra
		}
		br = bufio.NewReaderSize(zin, 64<<10)
		head, _ = br.Peek(len(tracedat.Magic))
	}
	if tracedat.IsTraceDat(head) {
		df := f
		if df == nil || compression != "" {
			if df, err = in.spool(br, opt); err != nil {
				return nil, err
			}
		}
		if _, err := df.Seek(0, io.SeekStart); err != nil {
			return nil, fmt.Errorf("%s: %w", in.Name, err)
		}
		if err := in.openDat(df, compression); err != nil {
			return nil, err
		}
		return in, nil
	}
	in.openText(br, compression, opt)
	return in, nil
}

// spool copies a trace.dat to an unlinked temporary file: the decoder
// needs random access.
func (in *Input) spool(r io.Reader, opt Options) (*os.File, error) {
	limit := opt.MaxSpool
	if limit <= 0 {
		limit = DefaultMaxSpool
	}
	tmp, err := os.CreateTemp(opt.TempDir, "gpuwatch-*.dat")
	if err != nil {
		return nil, fmt.Errorf("%s: spooling trace.dat: %w", in.Name, err)
	}
	os.Remove(tmp.Name())
	in.closes = append(in.closes, tmp.Close)
	n, err := io.Copy(tmp, io.LimitReader(r, limit+1))
	if err != nil {
		return nil, fmt.Errorf("%s: spooling trace.dat: %w", in.Name, err)
	}
	if n > limit {
		return nil, fmt.Errorf("%s: trace.dat from a pipe or compressed is larger than the spool cap of %d MiB: pass the uncompressed file by name (it is read in place)", in.Name, limit>>20)
	}
	return tmp, nil
}

func (in *Input) openDat(f *os.File, compression string) error {
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("%s: %w", in.Name, err)
	}
	file, err := tracedat.Open(f, fi.Size(), in.Name)
	if err != nil {
		return err
	}
	src, err := tracedat.OpenSource(file)
	if err != nil {
		if strings.Contains(err.Error(), "no GPU scheduler events") {
			return in.noEvents(fmt.Sprintf("%d event formats, none of the GPU scheduler", len(file.Formats)))
		}
		return err
	}
	in.src = NewSkew(src)
	in.stats = func() Stats {
		s := src.Stats()
		st := Stats{Format: FormatDat, Compression: compression, Events: s.Events, Lost: s.Lost, Unknown: s.Unknown}
		if s.LostUnknown > 0 {
			st.Warnings = append(st.Warnings, fmt.Sprintf("%s: %d ring-buffer pages report lost events without their number", in.Name, s.LostUnknown))
			st.WarningsTotal = 1
		}
		return st
	}
	return nil
}

func (in *Input) openText(r io.Reader, compression string, opt Options) {
	t := reporttext.NewReader(r, in.Name)
	if opt.Parallel > 1 {
		t.Parallel(opt.Parallel)
	}
	in.closes = append(in.closes, t.Close)
	in.src = NewSkew(t)
	in.stats = func() Stats {
		s := t.Stats()
		ws := t.Warnings()
		st := Stats{
			Format:        FormatText,
			Compression:   compression,
			Lines:         uint64(s.Lines),
			Events:        uint64(s.Events),
			Lost:          uint64(s.Lost),
			Unknown:       uint64(s.Unknown),
			UnknownByName: map[string]uint64{},
			Malformed:     uint64(s.Malformed),
		}
		for n, c := range s.UnknownByName {
			st.UnknownByName[n] = uint64(c)
		}
		for _, w := range ws {
			st.Warnings = append(st.Warnings, w.Error())
		}
		// The reader keeps the first warnings; Malformed counts them all.
		st.WarningsTotal = max(uint64(len(ws)), st.Malformed)
		return st
	}
}

// Check is the verdict on an input read to the end (its source returned
// io.EOF): an error for an input that is not a trace of GPU scheduler
// events (empty, or without any of them), nil otherwise.
func (in *Input) Check() error {
	st := in.Stats()
	if st.Format == FormatText && st.Lines == 0 {
		return fmt.Errorf("%s: empty input, not a trace-cmd report", in.Name)
	}
	if st.Events > 0 {
		return nil
	}
	return in.noEvents(saw(st))
}

// saw says what a trace without GPU scheduler events held: its most
// frequent other events, its malformed lines.
func saw(st Stats) string {
	names := make([]string, 0, len(st.UnknownByName))
	for n := range st.UnknownByName {
		names = append(names, n)
	}
	sort.Slice(names, func(i, j int) bool {
		a, b := st.UnknownByName[names[i]], st.UnknownByName[names[j]]
		return a > b || a == b && names[i] < names[j]
	})
	lines := func(n uint64, what string) string {
		if n == 1 {
			return "1 " + what + " line"
		}
		return fmt.Sprintf("%d %s lines", n, what)
	}
	var parts []string
	for _, n := range names[:min(len(names), 3)] {
		parts = append(parts, lines(st.UnknownByName[n], n))
	}
	if len(names) > 3 {
		parts = append(parts, fmt.Sprintf("lines of %d other events", len(names)-3))
	}
	if len(names) == 0 && st.Unknown > 0 {
		parts = append(parts, fmt.Sprintf("%d records of other events", st.Unknown))
	}
	if st.Malformed > 0 {
		parts = append(parts, lines(st.Malformed, "malformed"))
	}
	if len(parts) == 0 {
		return "no event lines"
	}
	return strings.Join(parts, ", ")
}

func (in *Input) noEvents(saw string) error {
	return fmt.Errorf("%w in %s (saw %s): %s", ErrNoGPUEvents, in.Name, saw, RecordHint)
}
