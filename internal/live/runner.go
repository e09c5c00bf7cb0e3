package live

import (
	"context"
	"errors"
	"io"
	"sort"
	"sync"
	"time"

	"github.com/gpuwatch/gpuwatch/internal/event"
	"github.com/gpuwatch/gpuwatch/internal/gaps"
)

// Clock is implemented by sources that know the current trace time even
// when no event arrives (tracefs with the mono clock, eBPF, replay). The
// runner advances the engine to it before each snapshot, so a switched-out
// window that is still going on shows as open.
type Clock interface {
	// Now is the current time on the source's trace clock, in ns. It is
	// called from other goroutines than Next's, concurrently with it.
	Now() int64
}

// Stats describes the run itself, beside the engine's snapshot.
type Stats struct {
	Source  string        // "tracefs", "ebpf", "replay"
	Started time.Time     // wall clock
	Uptime  time.Duration // wall clock since Started
	Events  uint64        // events read since start (KindLost and KindPartial markers excluded)
	Lost    uint64        // events the source reported lost since start
	Rate    float64       // events per second over the last snapshot interval
	Done    bool          // the source is exhausted (replay end, --duration)
	Err     error         // the error that ended the source, if any
	// Warnings are the run's current problems that do not end it (a
	// failing push, a recording stopped, no scheduler events yet), one
	// sentence each, in a stable order.
	Warnings []string
	// StealSeconds is each CPU's steal time since the run started
	// (Runner.SampleSteal; empty otherwise), indexed by CPU; IRQCPU is
	// the CPU on which most completions were signalled, -1 before any.
	StealSeconds []float64
	IRQCPU       int
}

// Runner feeds one engine from one source.
type Runner struct {
	src  event.Source
	name string

	mu      sync.Mutex
	eng     *gaps.Engine
	started time.Time
	events  uint64
	lost    uint64
	done    bool
	err     error
	// rate bookkeeping
	lastAt     time.Time
	lastEvents uint64
	rate       float64
	warnings   map[string]string
	// steal sampling (SampleSteal)
	statPath  string
	stealBase []uint64
	doneByCPU []uint64
}

// New returns a runner reading src ("name" is shown to users) into an
// engine configured by cfg.
func New(src event.Source, name string, cfg gaps.Config) *Runner {
	now := time.Now()
	return &Runner{src: src, name: name, eng: gaps.New(cfg), started: now, lastAt: now}
}

// Stopper is implemented by sources that drain at stop (tracefs, eBPF):
// after Stop, Next returns every event the kernel still held, or counts it
// lost, then io.EOF.
type Stopper interface {
	// Stop ends recording; safe from any goroutine, idempotent.
	Stop()
}

// Run reads the source until it ends or ctx is done. A Stopper source is
// stopped when ctx is done and read until io.EOF, so the counts include
// everything it held at the stop. Other sources are read until ctx is done;
// cancelling ctx does not unblock their waiting Next (the caller closes
// the source for that). Run returns nil at io.EOF or cancellation, the
// source's error otherwise.
func (r *Runner) Run(ctx context.Context) error {
	st, drains := r.src.(Stopper)
	if drains {
		defer context.AfterFunc(ctx, st.Stop)()
	}
	for {
		if !drains && ctx.Err() != nil {
			r.finish(nil)
			return nil
		}
		ev, err := r.src.Next()
		if err != nil {
			if errors.Is(err, io.EOF) || (!drains && ctx.Err() != nil) {
				r.finish(nil)
				return nil
			}
			r.finish(err)
			return err
		}
		r.mu.Lock()
		switch ev.Kind {
		case event.KindLost:
			r.lost = event.AddCount(r.lost, ev.Count)
		case event.KindPartial:
		default:
			r.events++
			if ev.Kind == event.KindDone && ev.CPU >= 0 && ev.CPU < maxStealCPU {
				for int(ev.CPU) >= len(r.doneByCPU) {
					r.doneByCPU = append(r.doneByCPU, 0)
				}
				r.doneByCPU[ev.CPU]++
			}
		}
		r.eng.Feed(ev)
		r.mu.Unlock()
	}
}

func (r *Runner) finish(err error) {
	r.mu.Lock()
	r.done, r.err = true, err
	r.mu.Unlock()
}

// Snapshot returns the engine's current snapshot and the run's stats. Safe
// from any goroutine; the snapshot is not modified afterwards.
func (r *Runner) Snapshot() (*gaps.Snapshot, Stats) {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.advance()
	if dt := now.Sub(r.lastAt); dt >= 100*time.Millisecond {
		r.rate = float64(r.events-r.lastEvents) / dt.Seconds()
		r.lastAt, r.lastEvents = now, r.events
	}
	return r.eng.Snapshot(), r.stats(now)
}

// advance brings the engine to the source's clock; r.mu is held.
func (r *Runner) advance() time.Time {
	if c, ok := r.src.(Clock); ok && !r.done {
		r.eng.Advance(c.Now())
	}
	return time.Now()
}

// stats is the run's Stats at now; r.mu is held.
func (r *Runner) stats(now time.Time) Stats {
	st := Stats{
		Source: r.name, Started: r.started, Uptime: now.Sub(r.started),
		Events: r.events, Lost: r.lost, Rate: r.rate, Done: r.done, Err: r.err,
		StealSeconds: r.steal(), IRQCPU: r.irqCPU(),
	}
	keys := make([]string, 0, len(r.warnings))
	for k := range r.warnings {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		st.Warnings = append(st.Warnings, r.warnings[k])
	}
	return st
}

// Warn sets the warning named key to msg, or clears it when msg is "";
// Stats carries the warnings set. Safe from any goroutine.
func (r *Runner) Warn(key, msg string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if msg == "" {
		delete(r.warnings, key)
		return
	}
	if r.warnings == nil {
		r.warnings = map[string]string{}
	}
	r.warnings[key] = msg
}

// Final is Snapshot with the whole-run estimate redone from all the
// evidence (gaps.Engine.FinalSnapshot): for a run's last report, so that it
// equals what `gpuwatch analyze` says about the same events.
func (r *Runner) Final() (*gaps.Snapshot, Stats) {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.advance()
	return r.eng.FinalSnapshot(), r.stats(now)
}

// Reset forgets the statistics gathered so far (the TUI's "r"); the
// source keeps running.
func (r *Runner) Reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.eng.Reset()
	r.started, r.lastAt = time.Now(), time.Now()
	r.events, r.lost, r.lastEvents, r.rate = 0, 0, 0, 0
	r.doneByCPU = nil
	if r.statPath != "" {
		r.stealBase = readSteal(r.statPath)
	}
}
