package live

import (
	"context"
	"errors"
	"io"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gpuwatch/gpuwatch/internal/event"
	"github.com/gpuwatch/gpuwatch/internal/gaps"
)

type sliceSource struct {
	evs []event.Event
	now atomic.Int64
}

func (s *sliceSource) Next() (event.Event, error) {
	if len(s.evs) == 0 {
		return event.Event{}, io.EOF
	}
	ev := s.evs[0]
	s.evs = s.evs[1:]
	s.now.Store(ev.Time)
	return ev, nil
}

func (s *sliceSource) Now() int64 { return s.now.Load() }

// pattern: two rings' worth of 250 µs jobs, 6 ms on, 6.4 ms off.
func pattern(turns int) []event.Event {
	var evs []event.Event
	t := int64(1e9)
	var fence uint64 = 0x1000
	for turn := 0; turn < turns; turn++ {
		end := t + 6e6
		for ; t+250e3 <= end; t += 250e3 {
			fence += 0x40
			evs = append(evs,
				event.Event{Time: t, Kind: event.KindRun, Name: "gpu_scheduler:drm_run_job", Ring: "gfx", Job: event.JobKey{Fence: fence}, JobCount: -1, HWJobCount: -1},
				event.Event{Time: t + 250e3 - 1, Kind: event.KindDone, Name: "gpu_scheduler:drm_sched_process_job", Job: event.JobKey{Fence: fence}, JobCount: -1, HWJobCount: -1})
		}
		// a job straddles the switch-out
		fence += 0x40
		evs = append(evs, event.Event{Time: t, Kind: event.KindRun, Name: "gpu_scheduler:drm_run_job", Ring: "gfx", Job: event.JobKey{Fence: fence}, JobCount: -1, HWJobCount: -1})
		t += 6.4e6
		evs = append(evs, event.Event{Time: t + 10e3, Kind: event.KindDone, Name: "gpu_scheduler:drm_sched_process_job", Job: event.JobKey{Fence: fence}, JobCount: -1, HWJobCount: -1})
		t += 10e3
	}
	return evs
}

func TestRunnerFeedsEngine(t *testing.T) {
	evs := pattern(50)
	evs = append(evs, event.Event{Time: evs[len(evs)-1].Time, Kind: event.KindLost, Count: 7})
	src := &sliceSource{evs: evs}
	r := New(src, "test", gaps.Config{})
	if err := r.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	s, st := r.Snapshot()
	if !st.Done || st.Err != nil {
		t.Fatalf("stats %+v: want done without error", st)
	}
	if st.Events != uint64(len(evs)-1) || st.Lost != 7 {
		t.Fatalf("events %d lost %d, want %d and 7", st.Events, st.Lost, len(evs)-1)
	}
	if s.Input.Events != st.Events {
		t.Fatalf("engine saw %d events, runner counted %d", s.Input.Events, st.Events)
	}
	if s.SwitchedOutTotal < 40*6*time.Millisecond {
		t.Fatalf("switched out %v, want about 50×6.4ms", s.SwitchedOutTotal)
	}
	r.Reset()
	s, st = r.Snapshot()
	if st.Events != 0 || s.Input.Events != 0 {
		t.Fatalf("after reset: %d/%d events", st.Events, s.Input.Events)
	}
}

type errSource struct{}

func (errSource) Next() (event.Event, error) { return event.Event{}, errors.New("boom") }

func TestRunnerSourceError(t *testing.T) {
	r := New(errSource{}, "bad", gaps.Config{})
	if err := r.Run(context.Background()); err == nil || err.Error() != "boom" {
		t.Fatalf("Run = %v, want boom", err)
	}
	if _, st := r.Snapshot(); !st.Done || st.Err == nil {
		t.Fatalf("stats %+v: want done with error", st)
	}
}

// TestRunnerFinalMatchesOffline: the last report of a live run (with a
// horizon) equals an offline analysis of the same events.
func TestRunnerFinalMatchesOffline(t *testing.T) {
	evs := pattern(300)
	off := gaps.New(gaps.Config{})
	for _, ev := range evs {
		off.Feed(ev)
	}
	want := off.Snapshot().Timeslice
	r := New(&sliceSource{evs: append([]event.Event(nil), evs...)}, "test", gaps.Config{Horizon: time.Second})
	go func() {
		// Snapshots while running, as the TUI and exporter take them.
		for i := 0; i < 50; i++ {
			r.Snapshot()
		}
	}()
	if err := r.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	s, _ := r.Final()
	if got := s.Timeslice; got.ScheduleShare != want.ScheduleShare || got.Slice != want.Slice || got.Period != want.Period || got.Detected != want.Detected {
		t.Errorf("final %+v\noffline %+v", got, want)
	}
}

// stoppingSource holds events back until Stop, as a kernel buffer does.
type stoppingSource struct {
	evs     []event.Event
	stopped chan struct{}
	once    atomic.Bool
}

func (s *stoppingSource) Stop() {
	if s.once.CompareAndSwap(false, true) {
		close(s.stopped)
	}
}

func (s *stoppingSource) Next() (event.Event, error) {
	<-s.stopped
	if len(s.evs) == 0 {
		return event.Event{}, io.EOF
	}
	ev := s.evs[0]
	s.evs = s.evs[1:]
	return ev, nil
}

// TestRunnerDrainsAtStop: a source that drains at stop is read to its end
// after ctx is done: the run counts every event it held and every loss.
func TestRunnerDrainsAtStop(t *testing.T) {
	evs := pattern(5)
	evs = append(evs, event.Event{Time: evs[len(evs)-1].Time, Kind: event.KindLost, Count: 3})
	src := &stoppingSource{evs: append([]event.Event(nil), evs...), stopped: make(chan struct{})}
	r := New(src, "test", gaps.Config{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	time.Sleep(10 * time.Millisecond)
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not end after cancel")
	}
	_, st := r.Final()
	if st.Events != uint64(len(evs)-1) || st.Lost != 3 {
		t.Errorf("events %d lost %d, want %d and 3", st.Events, st.Lost, len(evs)-1)
	}
}

func TestRunnerWarnings(t *testing.T) {
	r := New(&sliceSource{}, "test", gaps.Config{})
	r.Warn("push", "push failing")
	r.Warn("record", "recording stopped")
	if _, st := r.Snapshot(); len(st.Warnings) != 2 || st.Warnings[0] != "push failing" || st.Warnings[1] != "recording stopped" {
		t.Fatalf("warnings %q", st.Warnings)
	}
	r.Warn("push", "")
	if _, st := r.Snapshot(); len(st.Warnings) != 1 || st.Warnings[0] != "recording stopped" {
		t.Fatalf("after clearing: %q", st.Warnings)
	}
}
