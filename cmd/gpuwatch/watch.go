package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"sync"
	"time"

	"golang.org/x/term"

	"github.com/gpuwatch/gpuwatch/exporter"
	"github.com/gpuwatch/gpuwatch/internal/event"
	"github.com/gpuwatch/gpuwatch/internal/gaps"
	"github.com/gpuwatch/gpuwatch/internal/live"
	"github.com/gpuwatch/gpuwatch/internal/profile"
	"github.com/gpuwatch/gpuwatch/internal/replay"
	"github.com/gpuwatch/gpuwatch/internal/report"
	"github.com/gpuwatch/gpuwatch/internal/tracefs"
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
	fs.StringVar(&o.source, "source", "auto", "event source: ebpf, tracefs, or auto (eBPF, else tracefs)")
	fs.BoolVar(&o.json, "json", false, "print one JSON object per interval (the default when stdout is not a terminal)")
	fs.DurationVar(&o.interval, "interval", time.Second, "JSON output and metrics interval")
	fs.DurationVar(&o.duration, "duration", 0, "stop after this long (0: until interrupted)")
	fs.StringVar(&o.record, "record", "", "also write every event to `FILE` as trace-cmd report text (gpuwatch analyze reads it)")
	fs.StringVar(&o.replay, "replay", "", "replay a report `FILE` instead of watching live")
	fs.Float64Var(&o.speed, "speed", 1, "replay speed, × trace time (0: as fast as possible)")
	fs.StringVar(&o.expect, "expect", "", "expected share, e.g. 1/2, 0.5 or 50%")
	fs.DurationVar(&o.horizon, "horizon", 10*time.Second, "sliding window of the recent estimate and the windows list")
	fs.StringVar(&o.listen, "listen", defaultListen, "serve Prometheus metrics on `ADDR` at /metrics (\"\" to disable; other hosts only when told, e.g. 0.0.0.0:9464)")
	fs.StringVar(&o.push, "push", "", "push metrics to `URL` (Prometheus text import, e.g. VictoriaMetrics)")
	fs.Var(&o.labels, "label", "add `NAME=VALUE` to every metric series, scraped and pushed (repeatable, e.g. --label guest=vm1)")
	fs.StringVar(&o.pprof, "pprof", "", "write a pprof profile of GPU time to `FILE` at exit")
	fs.StringVar(&o.tracefs, "tracefs", "", "tracefs mount point (default: discovered)")
	fs.IntVar(&o.bufferKB, "buffer-kb", 0, "per-CPU ring buffer size of the tracefs instance in KiB (0: kernel default)")
	fs.BoolVar(&o.force, "force", false, "let --record overwrite an existing file")
	fs.StringVar(&o.pushMethod, "push-method", "POST", "HTTP `METHOD` of --push: POST (VictoriaMetrics, Pushgateway), PUT or GET")
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

// watchSource is an opened event source.
type watchSource struct {
	src   event.Source
	name  string
	close func() error
	gen   tracefs.Generation // for --record
	cpus  int
	// warnings, when set, returns the input lines a replay skipped.
	warnings func() (first []string, total uint64)
}

// errRefused marks errors that are the user's situation, not a failure.
func watchRefusal(err error) bool {
	return errors.Is(err, tracefs.ErrNotRoot) || errors.Is(err, tracefs.ErrNoTracefs) || errors.Is(err, tracefs.ErrNoEvents)
}

// watchGen picks the report generation that carries the events enabled.
func watchGen(names []string) tracefs.Generation {
	gen := tracefs.GenDRM
	for _, n := range names {
		switch {
		case strings.HasPrefix(n, "gpu_scheduler:drm_sched_job_"):
			return tracefs.Gen617
		case strings.HasPrefix(n, "gpu_sched:"):
			gen = tracefs.GenAMD
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
		return &watchSource{src: src, name: "replay", close: src.Close, gen: tracefs.GenDRM, cpus: 1, warnings: src.Warnings}, nil
	}
	openTracefs := func() (*watchSource, error) {
		l, err := tracefs.OpenLive(tracefs.LiveOptions{Root: o.tracefs, BufferKB: o.bufferKB})
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
			return &watchSource{src: src, name: "ebpf", close: closeFn, gen: tracefs.GenDRM, cpus: runtime.NumCPU()}, nil
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

func runWatch(args []string, stdout, stderr io.Writer) int {
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
	var exp *report.Expectation
	if o.expect != "" {
		var err error
		if exp, err = report.ParseExpectation(o.expect); err != nil {
			fmt.Fprintf(stderr, "gpuwatch watch: --expect: %v\n", err)
			return exitUsage
		}
	}

	// Signals are caught before tracefs is touched: a SIGTERM arriving
	// while the source opens must still lead to its cleanup.
	ctx, stop := signal.NotifyContext(context.Background(), stopSignals...)
	defer stop()

	var recFile *os.File
	if o.record != "" {
		var err error
		if recFile, err = openRecordFile(o.record, o.replay, o.force); err != nil {
			fmt.Fprintln(stderr, "gpuwatch watch:", err)
			return exitUsage
		}
		defer recFile.Close()
	}

	ws, err := openWatchSource(o, stderr)
	if err != nil {
		if recFile != nil {
			os.Remove(o.record) // created empty just now
		}
		if watchRefusal(err) {
			fmt.Fprintf(stderr, "gpuwatch: %v\n", err)
		} else {
			fmt.Fprintf(stderr, "gpuwatch watch: %v\n", err)
		}
		return exitUsage
	}
	var closeOnce sync.Once
	var closeErr error
	closeSource := func() { closeOnce.Do(func() { closeErr = ws.close() }) }
	defer closeSource()
	defer restoreOnPanic(closeSource)
	if line := startupLine(ws); line != "" {
		fmt.Fprintln(stderr, line)
	}

	src := ws.src
	var rec *recordingSource
	if recFile != nil {
		rec = newRecordingSource(src, recFile, o.record, ws.gen, ws.cpus)
		src = rec.source()
	}

	if o.duration > 0 {
		var c context.CancelFunc
		ctx, c = context.WithTimeout(ctx, o.duration)
		defer c()
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// Stopping closes the source: that unblocks the runner's Next. A
	// source that drains at stop is stopped by the runner instead, which
	// reads it to its end; it is closed after.
	if _, ok := src.(live.Stopper); !ok {
		context.AfterFunc(ctx, closeSource)
	}

	useTUI := !o.json && isTerminal(stdout)
	r := live.New(src, ws.name, gaps.Config{Horizon: o.horizon})
	if rec != nil {
		rec.onErr = warnFunc(r, "record", stderr, useTUI)
	}
	go watchQuiet(ctx, r, ws, stderr, useTUI)
	sampleSteal(r, ws)
	runDone := make(chan error, 1)
	go func() {
		defer restoreOnPanic(closeSource)
		err := r.Run(ctx)
		// The source ended (replay end, error): JSON output stops; the
		// TUI stays open on the final state ("ENDED") until the user
		// quits, so the result can be read.
		if !useTUI {
			cancel()
		}
		runDone <- err
	}()

	var expShare float64
	var expText string
	if exp != nil {
		expShare, expText = exp.Share, exp.Text
	}
	mo := metricsOptions{Listen: o.listen, Push: o.push, Every: o.interval, Expect: expShare, Labels: o.labels,
		PushMethod: o.pushMethod, OnPush: pushReporter(r, stderr, useTUI), Stderr: stderr}
	stopMetrics, err := startMetrics(ctx, r, mo)
	if err != nil && !listenSet && o.listen == defaultListen {
		// The default address is taken (another gpuwatch?): run without
		// serving rather than refuse.
		fmt.Fprintf(stderr, "gpuwatch: metrics not served: %v (choose another with --listen)\n", err)
		mo.Listen = ""
		stopMetrics, err = startMetrics(ctx, r, mo)
	}
	if err != nil {
		cancel()
		<-runDone
		fmt.Fprintf(stderr, "gpuwatch watch: %v\n", err)
		return exitUsage
	}

	var viewErr error
	if useTUI {
		viewErr = runTUI(ctx, cancel, r, tuiOptions{Expect: expShare, ExpectText: expText})
		cancel()
	} else {
		enc := json.NewEncoder(stdout)
		enc.SetEscapeHTML(false)
		t := time.NewTicker(o.interval)
	loop:
		for {
			select {
			case <-ctx.Done():
				break loop
			case <-t.C:
				s, st := r.Snapshot()
				if err := enc.Encode(watchObject(s, st, exp, false)); err != nil {
					viewErr = err
					cancel()
					break loop
				}
			}
		}
		t.Stop()
	}
	runErr := <-runDone
	closeSource()
	stopMetrics()

	code := exitOK
	// The recording ends first, so that the final object carries its
	// error, if any.
	if rec != nil {
		if reported, err := rec.finish(); err != nil {
			if !reported || useTUI {
				fmt.Fprintln(stderr, "gpuwatch watch:", err)
			}
			code = exitUsage
		}
	}
	s, st := r.Final()
	if ws.warnings != nil {
		// As analyze does: the lines the replay skipped.
		first, total := ws.warnings()
		printLineWarnings(stderr, first, total)
	}
	if o.pprof != "" {
		if err := writeFileWith(o.pprof, func(w io.Writer) error { return profile.Write(w, s) }); err != nil {
			fmt.Fprintf(stderr, "gpuwatch watch: --pprof: %v\n", err)
			code = exitUsage
		}
	}
	if useTUI && exp != nil && viewErr == nil {
		// Same exit status as --json and analyze: 1 when the verdict fails.
		if a := report.Build(s, report.InputStats{File: ws.name}, exp); a.Failed() && code == exitOK {
			code = exitVerdict
		}
	}
	if !useTUI {
		obj := watchObject(s, st, exp, true)
		if err := json.NewEncoder(stdout).Encode(obj); err != nil && viewErr == nil {
			viewErr = err
		}
		if obj.Verdict != nil && !obj.Verdict.OK && !obj.Verdict.Undetermined && code == exitOK {
			code = exitVerdict
		}
	}
	for _, err := range []error{runErr, viewErr, closeErr} {
		if err != nil {
			fmt.Fprintf(stderr, "gpuwatch watch: %v\n", err)
			code = exitUsage
		}
	}
	return code
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// watchJSON is one object of watch's JSON output.
type watchJSON struct {
	Time            string                  `json:"time"`
	UptimeSeconds   float64                 `json:"uptime_seconds"`
	Source          string                  `json:"source"`
	Events          uint64                  `json:"events"`
	LostEvents      uint64                  `json:"lost_events"`
	EventsPerSecond float64                 `json:"events_per_second"`
	Span            report.JSONSpan         `json:"span"`
	Timeslice       report.JSONTimeslice    `json:"timeslice"`
	Recent          report.JSONTimeslice    `json:"recent"`
	ThresholdSecs   float64                 `json:"threshold_seconds"`
	WindowsTotal    report.JSONWindowTotals `json:"windows_total"`
	Windows         []report.JSONWindow     `json:"windows"`
	Rings           []report.JSONRing       `json:"rings,omitempty"`
	Gaps            *report.JSONHistogram   `json:"gaps,omitempty"`
	Verdict         *report.JSONVerdict     `json:"verdict,omitempty"`
	Final           bool                    `json:"final,omitempty"`
	Input           *report.JSONInput       `json:"input,omitempty"`
	Warnings        []string                `json:"warnings,omitempty"`
	Steal           *watchSteal             `json:"steal,omitempty"`
}

func watchObject(s *gaps.Snapshot, st live.Stats, exp *report.Expectation, final bool) *watchJSON {
	a := report.Build(s, report.InputStats{Format: st.Source, Events: st.Events, Lost: st.Lost}, exp)
	d := a.Doc()
	o := &watchJSON{
		Time:            time.Now().UTC().Format(time.RFC3339Nano),
		UptimeSeconds:   st.Uptime.Seconds(),
		Source:          st.Source,
		Events:          st.Events,
		LostEvents:      st.Lost,
		EventsPerSecond: st.Rate,
		Span:            d.Span,
		Timeslice:       d.Timeslice,
		Recent:          report.Timeslice(&s.Recent),
		ThresholdSecs:   d.ThresholdSeconds,
		WindowsTotal:    d.WindowsTotal,
		Windows:         d.Windows,
		Rings:           d.Rings,
		Verdict:         d.Verdict,
		Final:           final,
		Warnings:        st.Warnings,
		Steal:           stealJSON(st),
	}
	if final {
		o.Gaps = &d.Gaps
		o.Input = &d.Input
	}
	return o
}
