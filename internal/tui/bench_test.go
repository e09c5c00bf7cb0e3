package tui

import (
	"context"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/gdamore/tcell/v2"

	"github.com/gpuwatch/gpuwatch/internal/gaps"
	"github.com/gpuwatch/gpuwatch/internal/live"
	"github.com/gpuwatch/gpuwatch/internal/replay"
	"github.com/gpuwatch/gpuwatch/internal/tui/tuitest"
)

// bigSnapshot is larger than any live snapshot the engine hands out in a
// 10 s horizon: 16 rings of 256 processes (the engine's cap per ring),
// a window every 6.2 ms for 10 s, every histogram bucket filled.
func bigSnapshot() *gaps.Snapshot {
	const span = int64(10 * time.Second)
	s := &gaps.Snapshot{Start: 0, End: span, Threshold: time.Millisecond}
	for t := int64(0); t+int64(6*time.Millisecond) < span; t += int64(12400 * time.Microsecond) {
		s.Windows = append(s.Windows, gaps.Window{Start: t + int64(6*time.Millisecond), End: t + int64(12400*time.Microsecond), Kind: gaps.SwitchedOut})
	}
	s.Windows[len(s.Windows)-1].Open = true
	for r := 0; r < 16; r++ {
		rs := gaps.RingStats{Name: fmt.Sprintf("comp_1.%d.0", r), Jobs: 1e6, Busy: 9 * time.Second, Stalled: 4 * time.Second, InFlight: 2,
			LatencyP50: 500 * time.Microsecond, LatencyP99: 7 * time.Millisecond}
		for p := 0; p < 256; p++ {
			rs.Processes = append(rs.Processes, gaps.ProcessStats{Comm: fmt.Sprintf("worker-%d", p), PID: int32(1000 + p), Jobs: uint64(p * 10)})
		}
		s.Rings = append(s.Rings, rs)
	}
	s.Gaps.Bounds = make([]time.Duration, 28)
	s.Gaps.Counts = make([]uint64, 29)
	for i := range s.Gaps.Bounds {
		s.Gaps.Bounds[i] = time.Duration(int64(1)<<(10+i) - 1)
		s.Gaps.Counts[i] = uint64(1000 * (i + 1))
	}
	s.Gaps.Counts[28] = 5
	s.Timeslice = gaps.Timeslice{Detected: true, Slice: 6 * time.Millisecond, Period: 12400 * time.Microsecond, ScheduleShare: 0.484, VFs: 2, Mode: gaps.ModeFixed, Confidence: 0.9}
	s.Recent = s.Timeslice
	return s
}

// BenchmarkDraw measures one refresh (snapshot handed to the model) and
// one full draw on a simulation screen. The snapshot itself is the
// engine's cost, measured by BenchmarkEngineSnapshot. At the default 5 Hz,
// ns/op × 5 / 1e9 is the fraction of a core spent drawing (×10 at 10 Hz).
func BenchmarkDraw(b *testing.B) {
	for _, c := range []struct {
		name string
		snap *gaps.Snapshot
		w, h int
	}{
		{"half-80x24", half(b), 80, 24},
		{"half-120x40", half(b), 120, 40},
		{"big-80x24", bigSnapshot(), 80, 24},
		{"big-200x60", bigSnapshot(), 200, 60},
	} {
		b.Run(c.name, func(b *testing.B) {
			s := tcell.NewSimulationScreen("UTF-8")
			if err := s.Init(); err != nil {
				b.Fatal(err)
			}
			defer s.Fini()
			s.SetSize(c.w, c.h)
			a := New(s, &fixed{snap: c.snap, stats: live.Stats{Source: "tracefs", Rate: 1e5}}, Options{Expect: 0.5})
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				a.refresh()
				a.draw()
			}
			nsPerDraw := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
			b.ReportMetric(nsPerDraw*10/1e9*100, "%core@10Hz")
		})
	}
}

// BenchmarkEngineSnapshot is the other half of a refresh: the engine's
// snapshot of 10 s of the seed's schedule (what Runner.Snapshot costs
// under the runner's lock, beside the draw).
func BenchmarkEngineSnapshot(b *testing.B) {
	evs, _ := tuitest.Events(b, tuitest.Half(10*time.Second))
	e := gaps.New(gaps.Config{Horizon: 10 * time.Second})
	for _, ev := range evs {
		e.Feed(ev)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		e.Snapshot()
	}
}

// cpuTime is the process's user+system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkLive120k replays ~120k events/s on the wall clock through a
// live.Runner (the watch path), without and with the TUI drawing on a
// simulation screen at the default 5 Hz, and reports the process's CPU
// use in cores (CPU seconds per wall second). The difference between the
// two is what the TUI costs at that event rate. Run with -benchtime 3x.
func BenchmarkLive120k(b *testing.B) {
	sc := tuitest.Half(1200 * time.Millisecond)
	sc.Rings[0].Job.Mean, sc.Rings[1].Job.Mean = 15*time.Microsecond, 25*time.Microsecond
	evs, _ := tuitest.Events(b, sc)
	rate := float64(len(evs)) / sc.Duration.Seconds()
	for _, withTUI := range []bool{false, true} {
		name := "engine"
		if withTUI {
			name = "engine+tui"
		}
		b.Run(name, func(b *testing.B) {
			var cpu, wall time.Duration
			for i := 0; i < b.N; i++ {
				src := replay.New(&tuitest.Slice{Evs: evs}, 1)
				r := live.New(src, "replay", gaps.Config{Horizon: 10 * time.Second})
				var a *App
				var s tcell.SimulationScreen
				done := make(chan error, 1)
				if withTUI {
					s = tcell.NewSimulationScreen("UTF-8")
					if err := s.Init(); err != nil {
						b.Fatal(err)
					}
					s.SetSize(80, 24)
					a = New(s, r, Options{Expect: 0.5})
					go func() { done <- a.Run() }()
				}
				c0, w0 := cpuTime(), time.Now()
				if err := r.Run(context.Background()); err != nil {
					b.Fatal(err)
				}
				cpu += cpuTime() - c0
				wall += time.Since(w0)
				if withTUI {
					a.Stop()
					<-done
					s.Fini()
				}
			}
			b.ReportMetric(rate, "events/s")
			b.ReportMetric(cpu.Seconds()/wall.Seconds(), "cores")
		})
	}
}
