package exporter

import (
	"bytes"
	"compress/gzip"
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
)

var update = flag.Bool("update", false, "rewrite testdata/scrape.golden")

// fixedSnapshot is a hand-made snapshot: the golden tests the rendering.
func fixedSnapshot() *Snapshot {
	est := Estimate{ShareKnown: true, Share: 0.4839, ShareErr: 0.0012, Detected: true, ScheduleShare: 0.4839,
		Slice: 6 * time.Millisecond, Period: 12400 * time.Microsecond, VFs: 2, Mode: "fixed", Confidence: 0.92}
	// the horizon saw a liquid host: turns of whole 6 ms quanta
	liquid := est
	liquid.Mode, liquid.Turn, liquid.Period, liquid.PeriodSpread, liquid.ScheduleShare = "variable", 18*time.Millisecond, 24600*time.Microsecond, 9*time.Millisecond, 0.7317
	return &Snapshot{
		Span:    time.Second,
		Overall: est, Recent: liquid,
		SwitchedOut: 512 * time.Millisecond, GuestIdle: 3 * time.Millisecond, Windows: 81,
		LongestRecentSwitchOut: 6400 * time.Microsecond,
		Threshold:              1 * time.Millisecond,
		Rings: []Ring{
			{Name: "gfx", Jobs: 5000, Busy: 990 * time.Millisecond, Stalled: 500 * time.Millisecond, InFlight: 2, LatencyP50: 300 * time.Microsecond, LatencyP99: 6500 * time.Microsecond,
				Processes: []Process{{Comm: "glmark2", PID: 2211, Jobs: 4990, Busy: 980 * time.Millisecond, Stalled: 495 * time.Millisecond}, {Comm: `we"ird\name`, PID: 7, Jobs: 10, Busy: 10 * time.Millisecond}}},
			{Name: `sdma"0`, Jobs: 1000, Busy: 100 * time.Millisecond, Stalled: 40 * time.Millisecond},
		},
		Gaps: Histogram{Bounds: []time.Duration{time.Millisecond, 4 * time.Millisecond, 16 * time.Millisecond},
			Counts: []uint64{5900, 10, 80, 0}, Sum: 1*time.Second + 500*time.Millisecond, Count: 5990},
		Events: map[string]uint64{"gpu_scheduler:drm_run_job": 6000, "gpu_scheduler:drm_sched_process_job": 6000},
		Lost:   3,
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
	path := lookPath(t, "promtool", "prometheus")
	cmd := exec.Command(path, "check", "metrics")
	cmd.Stdin = strings.NewReader(scrape)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
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
	s := fixedSnapshot()
	// A constant label whose value needs escaping: VictoriaMetrics' own
	// parser must read back exactly the value given.
	guest, err := ParseLabel(`guest=vm "1" \ east`)
	if err != nil {
		t.Fatal(err)
	}
	e := New(Options{Source: "replay", Version: "test", Expect: 0.48, Labels: Labels{guest}})
	e.Update(s)
	ctx := context.Background()
	if err := e.PushOnce(ctx, vm+"/api/v1/import/prometheus", PushOptions{ExtraLabels: `instance="guest-1"`}); err != nil {
		t.Fatal(err)
	}
	want := s.Overall.Share
	deadline := time.Now().Add(20 * time.Second)
	for {
		v, err := queryVM(vm, `gpuwatch_share_ratio{instance="guest-1",guest="vm \"1\" \\ east"}`)
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
	// The share alert's comparison evaluates on the pushed data: quiet
	// while the share's interval reaches the expectation...
	v, err := queryVM(vm, `gpuwatch_share_ratio + 2*gpuwatch_share_stderr_ratio < gpuwatch_expected_share_ratio`)
	if err != nil {
		t.Fatal(err)
	}
	if v != nil {
		t.Errorf("alert fires on a share that meets the expectation (share %v)", want)
	}
	// ... and returning the guest when it does not.
	v, err = queryVM(vm, `gpuwatch_share_ratio + 2*gpuwatch_share_stderr_ratio < 2*gpuwatch_expected_share_ratio`)
	if err != nil {
		t.Fatal(err)
	}
	if v == nil {
		t.Errorf("comparison quiet on a share below the expectation")
	}
}

func startVictoriaMetrics(t *testing.T) string {
	t.Helper()
	bin := lookPath(t, "victoria-metrics", "victoria-metrics")
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

// lookPath finds a tool the test needs; without it the test skips, or
// fails under GPUWATCH_REQUIRE_ALL=1 (CI installs every tool).
func lookPath(t *testing.T, name, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		msg := fmt.Sprintf("%s not installed (apt-get install -y %s)", name, pkg)
		if os.Getenv("GPUWATCH_REQUIRE_ALL") == "1" {
			t.Fatalf("%s, and GPUWATCH_REQUIRE_ALL=1 requires it", msg)
		}
		t.Skip(msg)
	}
	return p
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
	e.Update(fixedSnapshot())
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

// TestPushRefresh: each periodic push carries what Refresh published just
// before it, not an older update.
func TestPushRefresh(t *testing.T) {
	bodies := make(chan string, 100)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body io.Reader = r.Body
		if r.Header.Get("Content-Encoding") == "gzip" {
			zr, err := gzip.NewReader(r.Body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			body = zr
		}
		b, _ := io.ReadAll(body)
		select {
		case bodies <- string(b):
		default:
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	e := New(Options{Source: "replay", Version: "test"})
	e.Update(&Snapshot{})
	var refreshes uint64
	refresh := func() {
		refreshes++ // the push loop calls it, one push at a time
		e.Update(&Snapshot{Windows: refreshes})
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := e.Push(ctx, srv.URL+"/api/v1/import/prometheus", 20*time.Millisecond, PushOptions{Refresh: refresh}); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 3; i++ {
		var body string
		select {
		case body = <-bodies:
		case <-time.After(10 * time.Second):
			t.Fatalf("push %d did not come", i)
		}
		want := fmt.Sprintf("gpuwatch_windows_total %d\n", i)
		if !strings.Contains(body, want) {
			t.Errorf("push %d: no %q in\n%s", i, strings.TrimSpace(want), body)
		}
	}
}
