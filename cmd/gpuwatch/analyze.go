package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/gpuwatch/gpuwatch/internal/event"
	"github.com/gpuwatch/gpuwatch/internal/gaps"
	"github.com/gpuwatch/gpuwatch/internal/input"
	"github.com/gpuwatch/gpuwatch/internal/profile"
	"github.com/gpuwatch/gpuwatch/internal/report"
	"github.com/gpuwatch/gpuwatch/internal/reporttext"
	"github.com/gpuwatch/gpuwatch/internal/timeline"
)

func init() {
	commands = append(commands, command{"analyze", "analyse a trace-cmd report or trace.dat (plain, gzip, zstd) offline", runAnalyze})
}

// maxPrintedWarnings is how many input warnings analyze prints.
const maxPrintedWarnings = 20

const analyzeUsage = `usage: gpuwatch analyze [--json] [--expect SHARE] [--pprof FILE] [--svg FILE] FILE|-

Analyse a trace of the GPU scheduler's tracepoints offline: the text of
'trace-cmd report' (or of tracefs trace / trace_pipe) or a trace.dat, plain
or compressed with gzip or zstd; '-' reads standard input. Prints the
windows in which the VF was switched out and the host schedule behind them.
Record a trace with: trace-cmd record -e gpu_scheduler -e amdgpu -e dma_fence

Exit status: 0 ok, 1 the --expect verdict failed, 2 bad usage or input
(a trace without GPU scheduler events included).

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
	exp, ok := parseExpect("analyze", *expect, stderr)
	if !ok {
		return exitUsage
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

	in, err := openInput(files[0], stdin)
	if err != nil {
		fmt.Fprintf(stderr, "gpuwatch: %v\n", err)
		return exitUsage
	}
	defer in.Close()
	name := in.Name

	eng := gaps.New(gaps.Config{})
	var rec *timeline.Recorder
	if *svgFile != "" {
		rec = timeline.NewRecorder()
	}
	readErr := event.DrainBatches(in.Source(), func(evs []event.Event) {
		eng.FeedBatch(evs)
		if rec != nil {
			for i := range evs {
				rec.Feed(evs[i])
			}
		}
	})
	st := in.Stats()
	if readErr != nil && errors.Is(readErr, reporttext.ErrNotReport) {
		// One clear sentence; the lines it tripped on are no news.
		fmt.Fprintf(stderr, "gpuwatch: %v\n", readErr)
		return exitUsage
	}
	if readErr == nil {
		if err := in.Check(); err != nil {
			printWarnings(stderr, st)
			fmt.Fprintf(stderr, "gpuwatch: %v\n", err)
			return exitUsage
		}
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

func printWarnings(w io.Writer, st input.Stats) {
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

// openInput opens a trace file for analyze and watch --replay ("-":
// stdin): one reader per CPU for text (up to reporttext.Reader's cap),
// decompression beside the parsing.
func openInput(name string, stdin io.Reader) (*input.Input, error) {
	n := runtime.GOMAXPROCS(0)
	return input.Open(name, input.Options{Stdin: stdin, Parallel: n, ReadAhead: n > 1})
}
