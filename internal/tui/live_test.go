package tui

import (
	"context"
	"math"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gdamore/tcell/v2"

	"github.com/gpuwatch/gpuwatch/internal/gaps"
	"github.com/gpuwatch/gpuwatch/internal/live"
	"github.com/gpuwatch/gpuwatch/internal/replay"
	"github.com/gpuwatch/gpuwatch/internal/tui/tuitest"
)

// TestLiveReplay runs the watch path without a terminal: a generated 1/2
// schedule replayed (as fast as possible) through a live.Runner into the
// App on a simulation screen, refreshing every 10 ms, until the replay
// ends; the last screen must say ENDED and show the true schedule.
func TestLiveReplay(t *testing.T) {
	evs, tr := tuitest.Events(t, tuitest.Half(2*time.Second))
	src := replay.New(&tuitest.Slice{Evs: evs}, 0)
	r := live.New(src, "replay", gaps.Config{Horizon: 10 * time.Second})
	s := tcell.NewSimulationScreen("UTF-8")
	if err := s.Init(); err != nil {
		t.Fatal(err)
	}
	defer s.Fini()
	s.SetSize(80, 24)
	a := New(s, r, Options{Expect: 0.5, ExpectText: "1/2", Interval: 10 * time.Millisecond})
	done := make(chan error, 1)
	go func() { done <- a.Run() }()
	if err := r.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	// The replay is over: two more draws and the model has seen it. The
	// screen is read after Run returned (the simulation screen's contents
	// are not safe to read while the app draws).
	<-a.drawn
	<-a.drawn
	a.Stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	scr := dump(s)
	if !strings.Contains(scr, "ENDED") {
		t.Fatalf("no ENDED after the replay:\n%s", scr)
	}
	m := regexp.MustCompile(`share (\d+\.\d)% ± `).FindStringSubmatch(scr)
	if m == nil {
		t.Fatalf("no share:\n%s", scr)
	}
	if v, _ := strconv.ParseFloat(m[1], 64); math.Abs(v-100*tr.HeldShare) > 0.5 {
		t.Errorf("share %v%%, truth %.2f%%", v, 100*tr.HeldShare)
	}
	if !strings.Contains(scr, "glmark2[2412]") || !strings.Contains(scr, "▒") {
		t.Errorf("screen:\n%s", scr)
	}
}
