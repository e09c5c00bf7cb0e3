package exporter

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gpuwatch/gpuwatch/internal/event"
	"github.com/gpuwatch/gpuwatch/internal/gaps"
	"github.com/gpuwatch/gpuwatch/internal/tracefs/livetest"
)

var update = flag.Bool("update", false, "rewrite testdata/scrape.golden")

// fixedSnapshot is a hand-made snapshot: the golden tests the rendering,
// not the engine.
func fixedSnapshot() *gaps.Snapshot {
	ts := gaps.Timeslice{Detected: true, Slice: 6 * time.Millisecond, SliceErr: 20 * time.Microsecond,
		Period: 12400 * time.Microsecond, PeriodErr: time.Microsecond, Share: 0.4839, ShareErr: 0.0012,
		VFs: 2, SwitchCost: 200 * time.Microsecond, Mode: gaps.ModeFixed, Confidence: 0.92, Windows: 80}
	return &gaps.Snapshot{
		Input: gaps.Input{Events: 12000, Lost: 3, ByName: map[string]uint64{
			"gpu_scheduler:drm_run_job": 6000, "gpu_scheduler:drm_sched_process_job": 6000}},
		Start: 1437_000_000_000, End: 1438_000_000_000,
		Rings: []gaps.RingStats{
			{Name: "gfx", Jobs: 5000, Busy: 990 * time.Millisecond, Stalled: 500 * time.Millisecond, InFlight: 2, LatencyP50: 300 * time.Microsecond, LatencyP99: 6500 * time.Microsecond},
			{Name: `sdma"0`, Jobs: 1000, Busy: 100 * time.Millisecond, Stalled: 40 * time.Millisecond},
		},
		Timeslice: ts, Recent: ts,
		SwitchedOutTotal: 512 * time.Millisecond, GuestIdleTotal: 3 * time.Millisecond, WindowsTotal: 81,
		Threshold: 1 * time.Millisecond,
		Gaps: gaps.Histogram{Bounds: []time.Duration{time.Millisecond, 4 * time.Millisecond, 16 * time.Millisecond},
			Counts: []uint64{5900, 10, 80, 0}, Sum: 1*time.Second + 500*time.Millisecond, Count: 5990},
	}
}

func scrape(t *testing.T, e *Exporter) string {
	t.Helper()
	srv := httptest.NewServer(e.Handler())
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain; version=0.0.4") {
		t.Errorf("content type %q", ct)
	}
	return string(b)
}

func TestGoldenScrape(t *testing.T) {
	e := New(Options{Source: "replay", Version: "test", Expect: 0.5})
	e.Update(fixedSnapshot())
	got := scrape(t, e)
	got = strings.Replace(got, `goversion="`+runtimeVersion()+`"`, `goversion="GO"`, 1)
	golden := filepath.Join("testdata", "scrape.golden")
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("scrape differs from %s (run with -update to accept):\n%s", golden, got)
	}
	promtool(t, got)
}

// promtool runs `promtool check metrics` on a scrape: the exposition must
// parse and pass Prometheus' naming lint (units, _total, HELP).
func promtool(t *testing.T, scrape string) {
	t.Helper()
	path, err := exec.LookPath("promtool")
	if err != nil {
		livetest.Skip(t, "promtool not installed (apt-get install prometheus): exposition lint skipped")
	}
	cmd := exec.Command(path, "check", "metrics")
	cmd.Stdin = strings.NewReader(scrape)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
}

// feed runs the engine on a 2-VF pattern: 6 ms on, 6.4 ms off.
func feed(turns int) *gaps.Snapshot {
	e := gaps.New(gaps.Config{})
	t := int64(1e9)
	var fence uint64 = 0x1000
	run := func(at int64, f uint64) {
		e.Feed(event.Event{Time: at, Kind: event.KindRun, Name: "gpu_scheduler:drm_run_job", Ring: "gfx", Job: event.JobKey{Fence: f}, JobCount: -1, HWJobCount: -1})
	}
	done := func(at int64, f uint64) {
		e.Feed(event.Event{Time: at, Kind: event.KindDone, Name: "gpu_scheduler:drm_sched_process_job", Job: event.JobKey{Fence: f}, JobCount: -1, HWJobCount: -1})
	}
	for i := 0; i < turns; i++ {
		end := t + 6e6
		for ; t+250e3 <= end; t += 250e3 {
			fence += 0x40
			run(t, fence)
			done(t+250e3-1, fence)
		}
		fence += 0x40
		run(t, fence)
		t += 6.4e6
		done(t+10e3, fence)
		t += 10e3
	}
	return e.Snapshot()
}

// TestScrapeMatchesEngine checks the live scrape against the snapshot the
// engine produced, series by series.
func TestScrapeMatchesEngine(t *testing.T) {
	s := feed(100)
	if !s.Timeslice.Detected {
		t.Fatalf("engine detected nothing on the pattern: %s", s.Timeslice.Reason)
	}
	e := New(Options{Source: "tracefs", Version: "test"})
	e.Update(s)
	got := parse(t, scrape(t, e))
	check := func(series string, want float64) {
		t.Helper()
		v, ok := got[series]
		if !ok {
			t.Errorf("%s missing", series)
			return
		}
		if d := v - want; d > 1e-9*max(1, want) || d < -1e-9*max(1, want) {
			t.Errorf("%s = %v, want %v", series, v, want)
		}
	}
	check("gpuwatch_share_ratio", s.Timeslice.Share)
	check("gpuwatch_slice_seconds", s.Timeslice.Slice.Seconds())
	check("gpuwatch_period_seconds", s.Timeslice.Period.Seconds())
	check("gpuwatch_vfs", float64(s.Timeslice.VFs))
	check("gpuwatch_switched_out_seconds_total", s.SwitchedOutTotal.Seconds())
	check(`gpuwatch_jobs_total{ring="gfx"}`, float64(s.Rings[0].Jobs))
	check(`gpuwatch_stalled_seconds_total{ring="gfx"}`, s.Rings[0].Stalled.Seconds())
	check(`gpuwatch_events_total{event="gpu_scheduler:drm_run_job"}`, float64(s.Input.ByName["gpu_scheduler:drm_run_job"]))
	check(`gpuwatch_gap_seconds_count`, float64(s.Gaps.Count))
	check(`gpuwatch_mode{mode="fixed"}`, 1)
	promtool(t, scrape(t, e))
}

func parse(t *testing.T, text string) map[string]float64 {
	t.Helper()
	m := map[string]float64{}
	for _, line := range strings.Split(text, "\n") {
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		var v float64
		if _, err := fmt.Sscan(line[i+1:], &v); err != nil {
			t.Fatalf("bad sample line %q: %v", line, err)
		}
		m[line[:i]] = v
	}
	return m
}

// TestPushToVictoriaMetrics pushes to a real single-node VictoriaMetrics
// on loopback and reads the series back through its query API.
func TestPushToVictoriaMetrics(t *testing.T) {
	vm := startVictoriaMetrics(t)
	s := feed(100)
	e := New(Options{Source: "replay", Version: "test", Expect: 0.5})
	e.Update(s)
	ctx := context.Background()
	if err := e.PushOnce(ctx, vm+"/api/v1/import/prometheus", PushOptions{ExtraLabels: `instance="guest-1"`}); err != nil {
		t.Fatal(err)
	}
	want := s.Timeslice.Share
	deadline := time.Now().Add(20 * time.Second)
	for {
		v, err := queryVM(vm, `gpuwatch_share_ratio{instance="guest-1"}`)
		if err == nil && v != nil {
			if d := *v - want; d > 1e-9 || d < -1e-9 {
				t.Fatalf("VictoriaMetrics has share %v, pushed %v", *v, want)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("series never appeared in VictoriaMetrics: %v", err)
		}
		// Freshly imported samples become searchable after a flush.
		http.Get(vm + "/internal/force_flush")
		time.Sleep(200 * time.Millisecond)
	}
	// The alert expression of README evaluates on the pushed data.
	v, err := queryVM(vm, `gpuwatch_share_ratio + 2*gpuwatch_share_stderr_ratio < gpuwatch_expected_share_ratio`)
	if err != nil {
		t.Fatal(err)
	}
	if v != nil {
		t.Errorf("alert fires on a healthy 1/2 share (share %v)", want)
	}
}

func startVictoriaMetrics(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("victoria-metrics")
	if err != nil {
		livetest.Skip(t, "victoria-metrics not installed (apt-get install victoria-metrics)")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	cmd := exec.Command(bin, "-storageDataPath="+t.TempDir(), "-httpListenAddr="+addr, "-search.latencyOffset=0s", "-retentionPeriod=100y")
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("victoria-metrics log:\n%s", logs.String())
		}
	})
	base := "http://" + addr
	for i := 0; ; i++ {
		resp, err := http.Get(base + "/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return base
			}
		}
		if i > 100 {
			t.Fatalf("victoria-metrics did not come up on %s: %v", addr, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// queryVM runs an instant query and returns the single value, nil when empty.
func queryVM(base, q string) (*float64, error) {
	resp, err := http.Get(base + "/api/v1/query?query=" + url.QueryEscape(q))
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var r struct {
		Status string
		Data   struct {
			Result []struct {
				Value [2]any
			}
		}
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return nil, err
	}
	if r.Status != "success" {
		return nil, fmt.Errorf("query %q: status %s", q, r.Status)
	}
	if len(r.Data.Result) == 0 {
		return nil, nil
	}
	var v float64
	if _, err := fmt.Sscan(fmt.Sprint(r.Data.Result[0].Value[1]), &v); err != nil {
		return nil, err
	}
	return &v, nil
}

// TestPushMethodAndErrors: pushes use POST by default (or the method
// asked for), each push's result goes to OnResult, and nothing is written
// to the standard logger (which would land over a TUI).
func TestPushMethodAndErrors(t *testing.T) {
	var logs bytes.Buffer
	log.SetOutput(&logs)
	defer log.SetOutput(os.Stderr)
	var failing atomic.Bool
	failing.Store(true)
	methods := make(chan string, 100)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case methods <- r.Method:
		default:
		}
		if failing.Load() {
			http.Error(w, "no", http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	e := New(Options{Source: "replay", Version: "test"})
	e.Update(feed(20))
	for _, tc := range []struct{ method, want string }{{"", "POST"}, {"PUT", "PUT"}} {
		ctx, cancel := context.WithCancel(context.Background())
		results := make(chan error, 100)
		failing.Store(true)
		err := e.Push(ctx, srv.URL+"/api/v1/import/prometheus", 20*time.Millisecond, PushOptions{Method: tc.method, OnResult: func(err error) { results <- err }})
		if err != nil {
			t.Fatal(err)
		}
		if err := <-results; err == nil || !strings.Contains(err.Error(), "500") {
			t.Errorf("failing push: %v", err)
		}
		failing.Store(false)
		for err := range results {
			if err == nil {
				break
			}
		}
		cancel()
		if m := <-methods; m != tc.want {
			t.Errorf("method %q, want %q", m, tc.want)
		}
		for len(methods) > 0 {
			<-methods
		}
	}
	if logs.Len() != 0 {
		t.Errorf("push wrote to the standard logger: %q", logs.String())
	}
	if err := e.Push(context.Background(), "ftp://x/", time.Second, PushOptions{}); err == nil {
		t.Errorf("an ftp URL was accepted")
	}
}
