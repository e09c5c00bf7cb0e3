package main

import (
	"bufio"
	"compress/gzip"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/gpuwatch/gpuwatch/internal/event"
	"github.com/gpuwatch/gpuwatch/internal/gaps"
	"github.com/gpuwatch/gpuwatch/internal/profile"
	"github.com/gpuwatch/gpuwatch/internal/report"
	"github.com/gpuwatch/gpuwatch/internal/timeline"
	"github.com/gpuwatch/gpuwatch/internal/tracedat"
)

func init() {
	commands = append(commands, command{"analyze", "analyse a trace-cmd report (text, gzip) or trace.dat offline", runAnalyze})
}

// maxPrintedWarnings is how many input warnings analyze prints.
const maxPrintedWarnings = 20

// inputStats is what an input source counted; sources fill it when read
// to the end.
type inputStats struct {
	Format    string // "trace-cmd report", "trace.dat"
	Lines     uint64 // lines read (text)
	Events    uint64 // events decoded
	Lost      uint64 // events the tracer reported lost
	Unknown   uint64 // lines of events gpuwatch does not follow
	Malformed uint64 // lines that could not be parsed
	// Warnings are the first warnings, each "file:line: what was expected";
	// WarningsTotal counts all of them.
	Warnings      []string
	WarningsTotal uint64
}

const analyzeUsage = `usage: gpuwatch analyze [--json] [--expect SHARE] [--pprof FILE] [--svg FILE] FILE|-

Analyse a trace of the GPU scheduler's tracepoints offline: the text of
'trace-cmd report' (or of tracefs trace / trace_pipe), gzip-compressed or
not, or a trace.dat; '-' reads standard input. Prints the windows in which
the VF was switched out and the host schedule behind them.

Exit status: 0 ok, 1 the --expect verdict failed, 2 bad usage or input.

flags:
`

func runAnalyze(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	flags := flag.NewFlagSet("analyze", flag.ContinueOnError)
	flags.SetOutput(stderr)
	jsonOut := flags.Bool("json", false, "print the analysis as JSON (schema "+report.Schema+")")
	expect := flags.String("expect", "", "expected share, as 1/2, 0.5 or 50%: prints a verdict, exit 1 when the measured share is below it beyond its uncertainty")
	pprofFile := flags.String("pprof", "", "write the GPU time by ring, task and state as a pprof profile to `FILE`")
	svgFile := flags.String("svg", "", "write a timeline of the trace as SVG to `FILE`")
	flags.Usage = func() {
		fmt.Fprint(flags.Output(), analyzeUsage)
		flags.PrintDefaults()
	}
	// Flags may come before or after the file.
	var files []string
	for {
		if err := flags.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return exitOK
			}
			return exitUsage
		}
		if flags.NArg() == 0 {
			break
		}
		files = append(files, flags.Arg(0))
		args = flags.Args()[1:]
	}
	if len(files) != 1 {
		if len(files) == 0 {
			fmt.Fprintln(stderr, "gpuwatch analyze: missing FILE (use - for standard input)")
		} else {
			fmt.Fprintf(stderr, "gpuwatch analyze: want one FILE, got %d\n", len(files))
		}
		flags.Usage()
		return exitUsage
	}
	var exp *report.Expectation
	if *expect != "" {
		var err error
		if exp, err = report.ParseExpectation(*expect); err != nil {
			fmt.Fprintf(stderr, "gpuwatch analyze: --expect: %v\n", err)
			return exitUsage
		}
	}

	// Output files are checked before the input is read: a typo in a
	// directory should not cost a long analysis.
	for _, out := range []struct{ flag, path string }{{"--pprof", *pprofFile}, {"--svg", *svgFile}} {
		if out.path == "" {
			continue
		}
		if dir := filepath.Dir(out.path); dir != "" {
			if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
				fmt.Fprintf(stderr, "gpuwatch analyze: %s: cannot write %s: no directory %s\n", out.flag, out.path, dir)
				return exitUsage
			}
		}
	}

	name := files[0]
	src, stats, closeIn, err := openAnalyzeInput(name, stdin)
	if err != nil {
		fmt.Fprintf(stderr, "gpuwatch: %v\n", err)
		return exitUsage
	}
	defer closeIn()
	if name == "-" {
		name = "<stdin>"
	}

	eng := gaps.New(gaps.Config{})
	var rec *timeline.Recorder
	if *svgFile != "" {
		rec = timeline.NewRecorder()
	}
	readErr := event.DrainBatches(src, func(evs []event.Event) {
		eng.FeedBatch(evs)
		if rec != nil {
			for i := range evs {
				rec.Feed(evs[i])
			}
		}
	})
	st := stats()
	if readErr != nil && isNotReport(readErr) {
		// One clear sentence; the lines it tripped on are no news.
		fmt.Fprintf(stderr, "gpuwatch: %v\n", readErr)
		return exitUsage
	}
	if readErr == nil && st.Format == textFormat && st.Lines == 0 {
		fmt.Fprintf(stderr, "gpuwatch: %s: empty input, not a trace-cmd report\n", name)
		return exitUsage
	}
	printWarnings(stderr, st)
	snap := eng.Snapshot()
	code := exitOK
	if readErr != nil {
		// Keep what was read: report it, then fail as an input error.
		msg := readErr.Error()
		if !strings.Contains(msg, name) {
			msg = name + ": " + msg
		}
		fmt.Fprintf(stderr, "gpuwatch: %s; the analysis below covers the %d events read before\n", msg, snap.Input.Events)
		code = exitUsage
	}

	a := report.Build(snap, report.InputStats{
		File: name, Format: st.Format, Lines: st.Lines, Lost: st.Lost,
		Unknown: st.Unknown, Malformed: st.Malformed, Warnings: st.WarningsTotal,
	}, exp)
	if *jsonOut {
		err = report.WriteJSON(stdout, a)
	} else {
		err = report.WriteText(stdout, a)
	}
	if err != nil {
		fmt.Fprintf(stderr, "gpuwatch: %v\n", err)
		return exitUsage
	}
	if *pprofFile != "" {
		if err := writeFileWith(*pprofFile, func(w io.Writer) error { return profile.Write(w, snap) }); err != nil {
			fmt.Fprintf(stderr, "gpuwatch: --pprof: %v\n", err)
			code = exitUsage
		}
	}
	if *svgFile != "" {
		if err := writeFileWith(*svgFile, func(w io.Writer) error { return rec.WriteSVG(w, snap) }); err != nil {
			fmt.Fprintf(stderr, "gpuwatch: --svg: %v\n", err)
			code = exitUsage
		}
	}
	if code == exitOK && a.Failed() {
		code = exitVerdict
	}
	return code
}

func printWarnings(w io.Writer, st inputStats) {
	printLineWarnings(w, st.Warnings, st.WarningsTotal)
}

// printLineWarnings prints the first input warnings of msgs and how many
// more of total there were.
func printLineWarnings(w io.Writer, msgs []string, total uint64) {
	for _, msg := range msgs[:min(len(msgs), maxPrintedWarnings)] {
		fmt.Fprintf(w, "gpuwatch: %s\n", msg)
	}
	if shown := uint64(min(len(msgs), maxPrintedWarnings)); total > shown {
		fmt.Fprintf(w, "gpuwatch: ... and %d more warnings\n", total-shown)
	}
}

// writeFileWith creates path and writes it with fn.
func writeFileWith(path string, fn func(io.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	bw := bufio.NewWriter(f)
	err = fn(bw)
	if err == nil {
		err = bw.Flush()
	}
	if cerr := f.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("closing %s: %w", path, cerr)
	}
	return err
}

// openAnalyzeInput opens name ("-": stdin) and picks the decoder
// by content: gzip is unwrapped transparently, then a trace.dat goes to
// openTraceDat and anything else to the text parser.
func openAnalyzeInput(name string, stdin io.Reader) (src event.Source, stats func() inputStats, closeFn func() error, err error) {
	display := name
	var r io.Reader
	var f *os.File
	closeFn = func() error { return nil }
	if name == "-" {
		display = "<stdin>"
		r = stdin
	} else {
		f, err = os.Open(name)
		if err != nil {
			var pe *fs.PathError
			if errors.As(err, &pe) {
				err = fmt.Errorf("%s: %w", name, pe.Err)
			}
			return nil, nil, nil, err
		}
		if fi, err := f.Stat(); err == nil && fi.IsDir() {
			f.Close()
			return nil, nil, nil, fmt.Errorf("%s: is a directory, not a trace", name)
		}
		r = f
		closeFn = f.Close
	}
	fail := func(err error) (event.Source, func() inputStats, func() error, error) {
		closeFn()
		return nil, nil, nil, err
	}
	br := bufio.NewReaderSize(r, 64<<10)
	head, _ := br.Peek(len(tracedat.Magic))
	gz := len(head) >= 2 && head[0] == 0x1f && head[1] == 0x8b
	if gz {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return fail(fmt.Errorf("%s: reading gzip header: %w", display, err))
		}
		var zin io.Reader = zr
		if runtime.GOMAXPROCS(0) > 1 {
			// Decompress beside the parsing (see readAhead).
			ra := newReadAhead(zr, 512<<10, 2)
			prev := closeFn
			closeFn = func() error { ra.Close(); return prev() }
			zin = ra
		}
		br = bufio.NewReaderSize(zin, 64<<10)
		head, _ = br.Peek(len(tracedat.Magic))
	}
	if tracedat.IsTraceDat(head) {
		df := f
		if df == nil || gz {
			// trace.dat needs random access: spool it to an unlinked temporary file.
			tmp, err := os.CreateTemp("", "gpuwatch-*.dat")
			if err != nil {
				return fail(fmt.Errorf("%s: spooling trace.dat: %w", display, err))
			}
			os.Remove(tmp.Name())
			if _, err := io.Copy(tmp, br); err != nil {
				tmp.Close()
				return fail(fmt.Errorf("%s: spooling trace.dat: %w", display, err))
			}
			prev := closeFn
			closeFn = func() error { tmp.Close(); return prev() }
			df = tmp
		}
		if _, err := df.Seek(0, io.SeekStart); err != nil {
			return fail(fmt.Errorf("%s: %w", display, err))
		}
		src, stats, err := openTraceDat(df, display)
		if err != nil {
			return fail(err)
		}
		return src, stats, closeFn, nil
	}
	t, stats := openText(br, display)
	prev := closeFn
	closeFn = func() error { t.Close(); return prev() }
	return t, stats, closeFn, nil
}
