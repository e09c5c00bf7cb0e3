package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/gpuwatch/gpuwatch/internal/event"
	"github.com/gpuwatch/gpuwatch/internal/gaps"
	"github.com/gpuwatch/gpuwatch/internal/live"
	"github.com/gpuwatch/gpuwatch/internal/profile"
	"github.com/gpuwatch/gpuwatch/internal/report"
)

// session is one live run, shared by watch and run: open attaches the
// source (and the recording) and starts the runner and the metrics; run
// shows the live view; finish stops everything and writes what the run
// leaves behind (recording, profile).
type session struct {
	cmd    string // "watch", "run": the prefix of messages
	o      *watchOptions
	exp    *report.Expectation
	stderr io.Writer

	ws  *watchSource
	src event.Source // ws.src, teed to the recording
	rec *recordingSource
	r   *live.Runner
	tui bool // the live view is the TUI (warnings go to its status line)

	// ctx ends the run; cancel ends it early.
	ctx    context.Context
	cancel context.CancelFunc
	// cleanup releases what open acquired, in reverse order.
	cleanup []func()

	closeOnce   sync.Once
	closeErr    error
	runDone     chan error
	runErr      error
	stopMetrics func()
}

// sessionOptions say how a command uses its session.
type sessionOptions struct {
	// Wrap, when set, wraps the source before the runner reads it (after
	// the recording tee: the recording keeps the events as read).
	Wrap func(event.Source) event.Source
	// EndWithSource ends the run when the source ends (replay end, error).
	EndWithSource bool
	// ListenSet: --listen was given, so failing to listen is an error.
	ListenSet bool
	// TUI: the view is the TUI; warnings go to its status line, not over it.
	TUI bool
}

// openSession opens the source of o and starts reading it; the run ends
// when ctx does (or --duration passes). On failure it prints why and
// returns the exit status.
func openSession(ctx context.Context, cmd string, o *watchOptions, exp *report.Expectation, so sessionOptions, stderr io.Writer) (*session, int) {
	s := &session{cmd: cmd, o: o, exp: exp, stderr: stderr, tui: so.TUI}
	// The recording is checked (symlink, existing file, the replay input)
	// before tracefs is touched.
	var recFile *os.File
	if o.record != "" {
		var err error
		if recFile, err = openRecordFile(o.record, o.replay, o.force); err != nil {
			fmt.Fprintf(stderr, "gpuwatch %s: %v\n", cmd, err)
			return nil, exitUsage
		}
	}
	ws, err := openWatchSource(o, stderr)
	if err != nil {
		if recFile != nil {
			recFile.Close()
			os.Remove(o.record) // created empty just now
		}
		if watchRefusal(err) {
			fmt.Fprintf(stderr, "gpuwatch: %v\n", err)
		} else {
			fmt.Fprintf(stderr, "gpuwatch %s: %v\n", cmd, err)
		}
		return nil, exitUsage
	}
	s.ws = ws
	s.defer_(s.closeSource)
	for _, line := range startupLines(ws, cmd) {
		fmt.Fprintln(stderr, line)
	}

	s.src = ws.src
	if recFile != nil {
		s.rec = newRecordingSource(s.src, recFile, o.record, ws.gen, ws.cpus)
		s.src = s.rec.source()
	}
	if so.Wrap != nil {
		s.src = live.Forward(s.src, so.Wrap(s.src))
	}

	if o.duration > 0 {
		var c context.CancelFunc
		ctx, c = context.WithTimeout(ctx, o.duration)
		s.defer_(c)
	}
	s.ctx, s.cancel = context.WithCancel(ctx)
	s.defer_(s.cancel)
	// Stopping closes the source: that unblocks the runner's Next. A
	// source that drains at stop is stopped by the runner instead, which
	// reads it to its end; it is closed after.
	if _, ok := s.src.(live.Stopper); !ok {
		context.AfterFunc(s.ctx, s.closeSource)
	}

	s.r = live.New(s.src, ws.name, gaps.Config{Horizon: o.horizon})
	if s.rec != nil {
		s.rec.onErr = warnFunc(s.r, "record", cmd, stderr, so.TUI)
	}
	go watchQuiet(s.ctx, s.r, ws, cmd, stderr, so.TUI)
	sampleSteal(s.r, ws)
	s.runDone = make(chan error, 1)
	go func() {
		defer restoreOnPanic(s.closeSource)
		err := s.r.Run(s.ctx)
		if so.EndWithSource {
			s.cancel()
		}
		s.runDone <- err
	}()

	mo := metricsOptions{Listen: o.listen, Push: o.push, Every: o.interval, Expect: s.expectShare(), Labels: o.labels,
		PushMethod: o.pushMethod, OnPush: pushReporter(s.r, cmd, stderr, so.TUI), Stderr: stderr, Cmd: cmd}
	s.stopMetrics, err = startMetrics(s.ctx, s.r, mo)
	if err != nil && !so.ListenSet && o.listen == defaultListen {
		// The default address is taken (another gpuwatch?): run without
		// serving rather than refuse.
		fmt.Fprintf(stderr, "gpuwatch: metrics not served: %v (choose another with --listen)\n", err)
		mo.Listen = ""
		s.stopMetrics, err = startMetrics(s.ctx, s.r, mo)
	}
	if err != nil {
		s.cancel()
		<-s.runDone
		s.release()
		fmt.Fprintf(stderr, "gpuwatch %s: %v\n", cmd, err)
		return nil, exitUsage
	}
	return s, exitOK
}

// defer_ adds f to what release undoes.
func (s *session) defer_(f func()) { s.cleanup = append(s.cleanup, f) }

// release undoes open, last acquired first. Safe to call more than once.
func (s *session) release() {
	for i := len(s.cleanup) - 1; i >= 0; i-- {
		s.cleanup[i]()
	}
	s.cleanup = nil
}

func (s *session) closeSource() { s.closeOnce.Do(func() { s.closeErr = s.ws.close() }) }

func (s *session) expectShare() float64 {
	if s.exp == nil {
		return 0
	}
	return s.exp.Share
}

// run shows the live view until the run ends: the TUI when useTUI (tui
// names extra lines for it), else one JSON object per interval on stdout.
// It returns the view's error.
func (s *session) run(stdout io.Writer, useTUI bool, to tuiOptions) error {
	if useTUI {
		to.Expect = s.expectShare()
		if s.exp != nil {
			to.ExpectText = s.exp.Text
		}
		err := runTUI(s.ctx, s.cancel, s.r, to)
		s.cancel()
		return err
	}
	enc := newWatchEncoder(stdout)
	t := time.NewTicker(s.o.interval)
	defer t.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return nil
		case <-t.C:
			snap, st := s.r.Snapshot()
			if err := enc.Encode(report.Watch(snap, st, s.exp, false, time.Now())); err != nil {
				s.cancel()
				return err
			}
		}
	}
}

// finish waits for the runner (the run must have ended or be cancelled),
// closes the source and the metrics, and writes the recording and the
// profile. It returns the final snapshot and the exit status so far.
func (s *session) finish() (*gaps.Snapshot, live.Stats, int) {
	s.runErr = <-s.runDone
	s.closeSource()
	s.stopMetrics()
	defer s.release()

	code := exitOK
	// The recording ends first, so that the final object carries its
	// error, if any.
	if s.rec != nil {
		if reported, err := s.rec.finish(); err != nil {
			if !reported || s.tui {
				fmt.Fprintf(s.stderr, "gpuwatch %s: %v\n", s.cmd, err)
			}
			code = exitUsage
		}
	}
	snap, st := s.r.Final()
	if s.ws.warnings != nil {
		// As analyze does: the lines the replay skipped.
		first, total := s.ws.warnings()
		printLineWarnings(s.stderr, first, total)
	}
	if s.o.pprof != "" {
		if err := writeFileWith(s.o.pprof, func(w io.Writer) error { return profile.Write(w, snap) }); err != nil {
			fmt.Fprintf(s.stderr, "gpuwatch %s: --pprof: %v\n", s.cmd, err)
			code = exitUsage
		}
	}
	return snap, st, code
}

// abort ends the run early and finishes it, when the command gives up
// before its result is wanted: the recording and the profile are still
// written, and the source restored.
func (s *session) abort() {
	s.cancel()
	s.finish()
}

// errors prints the run's errors (the source's, the view's, closing's)
// after finish and returns code, or exitUsage when there was one.
func (s *session) errors(code int, viewErr error) int {
	for _, err := range []error{s.runErr, viewErr, s.closeErr} {
		if err != nil {
			fmt.Fprintf(s.stderr, "gpuwatch %s: %v\n", s.cmd, err)
			code = exitUsage
		}
	}
	return code
}

// newWatchEncoder encodes watch's and run's JSON objects, one a line,
// without HTML escaping (the objects carry paths and messages, not HTML).
func newWatchEncoder(w io.Writer) *json.Encoder {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc
}
