package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/gpuwatch/gpuwatch/exporter"
	"github.com/gpuwatch/gpuwatch/internal/event"
	"github.com/gpuwatch/gpuwatch/internal/replay"
	"github.com/gpuwatch/gpuwatch/internal/report"
	"github.com/gpuwatch/gpuwatch/internal/tracefs"
	"github.com/gpuwatch/gpuwatch/internal/tracepoint"
)

func init() {
	commands = append(commands, command{"watch", "live: TUI on a terminal, one JSON object per interval otherwise", runWatch})
}

// watchOptions are watch's flags.
type watchOptions struct {
	source   string
	json     bool
	interval time.Duration
	duration time.Duration
	record   string
	replay   string
	speed    float64
	expect   string
	horizon  time.Duration
	listen   string
	push     string
	labels   exporter.Labels
	pprof    string
	tracefs  string
	bufferKB int

	force      bool   // --record may overwrite
	pushMethod string // HTTP method of --push
}

func watchFlags(stderr io.Writer) (*flag.FlagSet, *watchOptions) {
	o := &watchOptions{}
	fs := flag.NewFlagSet("watch", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addSourceFlags(fs, o)
	fs.BoolVar(&o.json, "json", false, "print one JSON object per interval (the default when stdout is not a terminal)")
	fs.DurationVar(&o.interval, "interval", time.Second, "JSON output and metrics interval")
	fs.DurationVar(&o.duration, "duration", 0, "stop after this long (0: until interrupted)")
	fs.StringVar(&o.replay, "replay", "", "replay a trace `FILE` (report text or trace.dat, plain, gzip or zstd) instead of watching live")
	fs.Float64Var(&o.speed, "speed", 1, "replay speed, × trace time (0: as fast as possible)")
	fs.StringVar(&o.listen, "listen", defaultListen, "serve Prometheus metrics on `ADDR` at /metrics (\"\" to disable; other hosts only when told, e.g. 0.0.0.0:9464)")
	fs.StringVar(&o.push, "push", "", "push metrics to `URL` (Prometheus text import, e.g. VictoriaMetrics)")
	fs.StringVar(&o.pushMethod, "push-method", "POST", "HTTP `METHOD` of --push: POST (VictoriaMetrics, Pushgateway), PUT or GET")
	fs.Var(&o.labels, "label", "add `NAME=VALUE` to every metric series, scraped and pushed (repeatable, e.g. --label guest=vm1)")
	fs.StringVar(&o.pprof, "pprof", "", "write a pprof profile of GPU time to `FILE` at exit")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: gpuwatch watch [flags]")
		fmt.Fprintln(stderr, "\nWatches the GPU scheduler live (root) and infers the VF's time slice.")
		fmt.Fprintln(stderr, "On a terminal it shows a TUI; with --json or without a terminal it prints")
		fmt.Fprintln(stderr, "one JSON object per interval and a last one with \"final\": true.")
		fmt.Fprintln(stderr, "\nflags:")
		fs.PrintDefaults()
	}
	return fs, o
}

// addSourceFlags adds the flags watch and run share: the source, its
// recording, the expectation and the live estimate's horizon.
func addSourceFlags(fs *flag.FlagSet, o *watchOptions) {
	fs.StringVar(&o.source, "source", "auto", "event source: ebpf, tracefs, or auto (eBPF, else tracefs)")
	fs.StringVar(&o.tracefs, "tracefs", "", "tracefs mount point (default: discovered)")
	fs.IntVar(&o.bufferKB, "buffer-kb", 0, "per-CPU ring buffer size of the tracefs instance in KiB (0: kernel default)")
	fs.StringVar(&o.record, "record", "", "also write every event to `FILE` as trace-cmd report text (gpuwatch analyze reads it)")
	fs.BoolVar(&o.force, "force", false, "let --record overwrite an existing file")
	fs.StringVar(&o.expect, "expect", "", "expected share, e.g. 1/2, 0.5 or 50%")
	fs.DurationVar(&o.horizon, "horizon", 10*time.Second, "sliding window of the recent estimate and the windows list")
}

// watchSource is an opened event source.
type watchSource struct {
	src   event.Source
	name  string
	close func() error
	gen   tracepoint.Generation // for --record
	cpus  int
	// warnings, when set, returns the input lines a replay skipped.
	warnings func() (first []string, total uint64)
}

// watchRefusal reports errors that are the user's situation, not a failure.
func watchRefusal(err error) bool {
	return errors.Is(err, tracefs.ErrNotRoot) || errors.Is(err, tracefs.ErrNoTracefs) || errors.Is(err, tracefs.ErrNoEvents)
}

// watchGen picks the report generation that carries the events enabled.
func watchGen(names []string) tracepoint.Generation {
	gen := tracepoint.GenDRM
	for _, n := range names {
		switch {
		case strings.HasPrefix(n, "gpu_scheduler:drm_sched_job_"):
			return tracepoint.Gen617
		case strings.HasPrefix(n, "gpu_sched:"):
			gen = tracepoint.GenAMD
		}
	}
	return gen
}

func openWatchSource(o *watchOptions, stderr io.Writer) (*watchSource, error) {
	if o.replay != "" {
		// The same inputs as analyze, opened the same way.
		in, err := openInput(o.replay, os.Stdin)
		if err != nil {
			return nil, err
		}
		src, err := replay.OpenInput(in, o.speed)
		if err != nil {
			return nil, err
		}
		return &watchSource{src: src, name: "replay", close: src.Close, gen: tracepoint.GenDRM, cpus: 1, warnings: src.Warnings}, nil
	}
	openTracefs := func() (*watchSource, error) {
		l, err := tracefs.Open(tracefs.Options{Root: o.tracefs, BufferKB: o.bufferKB})
		if err != nil {
			return nil, err
		}
		return &watchSource{src: l, name: "tracefs", close: l.Close, gen: watchGen(l.Events()), cpus: runtime.NumCPU()}, nil
	}
	switch o.source {
	case "tracefs":
		return openTracefs()
	case "ebpf", "auto":
		src, closeFn, err := openEBPF(o.tracefs)
		if err == nil {
			if closeFn == nil {
				closeFn = func() error { return nil }
			}
			return &watchSource{src: src, name: "ebpf", close: closeFn, gen: tracepoint.GenDRM, cpus: runtime.NumCPU()}, nil
		}
		if o.source == "ebpf" {
			return nil, err
		}
		fmt.Fprintf(stderr, "gpuwatch: eBPF source unavailable (%v); using tracefs\n", err)
		return openTracefs()
	}
	return nil, fmt.Errorf("unknown --source %q: expected ebpf, tracefs or auto", o.source)
}

// defaultListen serves metrics on loopback only, unless told otherwise.
const defaultListen = "127.0.0.1:9464"

func runWatch(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs, o := watchFlags(stderr)
	if code, ok := parseCommandFlags(fs, args, stderr); !ok {
		return code
	}
	if err := o.validate(); err != nil {
		fmt.Fprintln(stderr, "gpuwatch watch:", err)
		return exitUsage
	}
	listenSet := false
	fs.Visit(func(f *flag.Flag) { listenSet = listenSet || f.Name == "listen" })
	exp, ok := parseExpect("watch", o.expect, stderr)
	if !ok {
		return exitUsage
	}

	// Signals are caught before tracefs is touched: a SIGTERM arriving
	// while the source opens must still lead to its cleanup.
	ctx, stop := signal.NotifyContext(context.Background(), stopSignals...)
	defer stop()

	useTUI := !o.json && isTerminal(stdout)
	// The source ended (replay end, error): JSON output stops; the TUI
	// stays open on the final state ("ENDED") until the user quits, so
	// the result can be read.
	ses, code := openSession(ctx, "watch", o, exp, sessionOptions{EndWithSource: !useTUI, ListenSet: listenSet, TUI: useTUI}, stderr)
	if ses == nil {
		return code
	}
	defer restoreOnPanic(ses.closeSource)
	viewErr := ses.run(stdout, useTUI, tuiOptions{})
	s, st, code := ses.finish()
	if useTUI && exp != nil && viewErr == nil {
		// Same exit status as --json and analyze: 1 when the verdict
		// fails or cannot be determined.
		if a := report.Build(s, report.InputStats{File: ses.ws.name}, exp); a.Failed() && code == exitOK {
			code = exitVerdict
		}
	}
	if !useTUI {
		obj := report.Watch(s, st, exp, true, time.Now())
		if err := newWatchEncoder(stdout).Encode(obj); err != nil && viewErr == nil {
			viewErr = err
		}
		if obj.Verdict != nil && !obj.Verdict.OK && code == exitOK {
			code = exitVerdict
		}
	}
	return ses.errors(code, viewErr)
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
