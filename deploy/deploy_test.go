// Package deploy holds no Go code: its tests check the deployment kit
// beside them (scrape configurations, alerting and recording rules, the
// Grafana dashboard) with promtool, vmagent, vmalert and a real
// single-node VictoriaMetrics fed by replayed gpuwatch guests.
package deploy

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// requireAll makes a test that would skip for a missing tool fail instead
// (CI installs every tool).
const requireAll = "GPUWATCH_REQUIRE_ALL"

// tool returns the path of an installed command, or skips (fails under
// GPUWATCH_REQUIRE_ALL=1) saying which package provides it.
func tool(t *testing.T, name, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		msg := fmt.Sprintf("%s not installed (apt-get install -y %s)", name, pkg)
		if os.Getenv(requireAll) == "1" {
			t.Fatalf("%s, and %s=1 requires it", msg, requireAll)
		}
		t.Skip(msg)
	}
	return p
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", filepath.Base(name), strings.Join(args, " "), err, out)
	}
	return string(out)
}

var ruleFiles = []string{"rules/alerts.yml", "rules/recording.yml"}

func TestPromtoolCheckRules(t *testing.T) {
	promtool := tool(t, "promtool", "prometheus")
	out := run(t, promtool, append([]string{"check", "rules"}, ruleFiles...)...)
	if strings.Count(out, "SUCCESS") != len(ruleFiles) {
		t.Errorf("promtool check rules:\n%s", out)
	}
}

func TestPromtoolTestRules(t *testing.T) {
	promtool := tool(t, "promtool", "prometheus")
	tests, err := filepath.Glob("tests/*_test.yml")
	if err != nil || len(tests) < 2 {
		t.Fatalf("rule tests: %v %v", tests, err)
	}
	run(t, promtool, append([]string{"test", "rules"}, tests...)...)
}

// TestPromtoolCheckConfig checks prometheus.yml, its rule files and its
// file-discovery targets.
func TestPromtoolCheckConfig(t *testing.T) {
	promtool := tool(t, "promtool", "prometheus")
	run(t, promtool, "check", "config", "prometheus.yml")
}

// freeAddr returns a free loopback address.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// start runs a server until the test ends, waiting (bounded) until url
// answers 200.
func start(t *testing.T, health string, name string, args ...string) {
	t.Helper()
	cmd := exec.Command(name, args...)
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("%s log (tail):\n%s", filepath.Base(name), tail(logs.String(), 3000))
		}
	})
	for i := 0; ; i++ {
		select {
		case <-exited:
			t.Fatalf("%s exited:\n%s", filepath.Base(name), logs.String())
		default:
		}
		if resp, err := http.Get(health); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if i > 150 {
			t.Fatalf("%s did not answer %s", filepath.Base(name), health)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// startVictoriaMetrics starts a single-node VictoriaMetrics on loopback
// with its data in a temporary directory; fresh samples are queryable at
// once (no latency offset, no cache).
func startVictoriaMetrics(t *testing.T) *vmServer {
	t.Helper()
	bin := tool(t, "victoria-metrics", "victoria-metrics")
	addr := freeAddr(t)
	start(t, "http://"+addr+"/health", bin, "-storageDataPath="+t.TempDir(), "-httpListenAddr="+addr,
		"-retentionPeriod=100y", "-search.latencyOffset=0s", "-search.disableCache", "-loggerLevel=ERROR")
	return &vmServer{base: "http://" + addr}
}

type vmServer struct{ base string }

// sample is one series of an instant query's result.
type sample struct {
	Labels map[string]string
	Value  float64
}

func (s sample) String() string {
	keys := make([]string, 0, len(s.Labels))
	for k := range s.Labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s=%q ", k, s.Labels[k])
	}
	return fmt.Sprintf("{%s} %v", strings.TrimSpace(b.String()), s.Value)
}

// query runs an instant query.
func (v *vmServer) query(q string) ([]sample, error) {
	http.Get(v.base + "/internal/force_flush")
	resp, err := http.Get(v.base + "/api/v1/query?query=" + url.QueryEscape(q))
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var r struct {
		Status, Error string
		Data          struct {
			ResultType string
			Result     []struct {
				Metric map[string]string
				Value  [2]any
			}
		}
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return nil, fmt.Errorf("query %s: %w", q, err)
	}
	if r.Status != "success" {
		return nil, fmt.Errorf("query %s: %s", q, r.Error)
	}
	if r.Data.ResultType != "vector" {
		return nil, fmt.Errorf("query %s: %s result, want vector", q, r.Data.ResultType)
	}
	var out []sample
	for _, s := range r.Data.Result {
		str, _ := s.Value[1].(string)
		f, err := strconv.ParseFloat(str, 64)
		if err != nil {
			return nil, fmt.Errorf("query %s: value %v: %w", q, s.Value[1], err)
		}
		out = append(out, sample{Labels: s.Metric, Value: f})
	}
	return out, nil
}

// raw returns the raw samples of one series (selector must match one).
func (v *vmServer) raw(selector string) (ts, vals []float64, err error) {
	var r struct {
		Data struct {
			Result []struct{ Values [][2]any }
		}
	}
	if err := getJSON(v.base+"/api/v1/query?query="+url.QueryEscape(selector+"[1h]"), &r); err != nil {
		return nil, nil, err
	}
	if len(r.Data.Result) != 1 {
		return nil, nil, fmt.Errorf("%s: %d series, want 1", selector, len(r.Data.Result))
	}
	for _, p := range r.Data.Result[0].Values {
		t, _ := p[0].(float64)
		s, _ := p[1].(string)
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return nil, nil, err
		}
		ts, vals = append(ts, t), append(vals, f)
	}
	return ts, vals, nil
}

// eventually retries check (bounded) until it returns nil: samples pushed
// a moment ago become searchable after VictoriaMetrics indexes them.
func eventually(t *testing.T, what string, check func() error) {
	t.Helper()
	var err error
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(250 * time.Millisecond) {
		if err = check(); err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("%s: %v", what, err)
			return
		}
	}
}

// guest is one replayed guest and what `gpuwatch analyze` says about its
// trace.
type guest struct {
	name, host, gpu, trace string
	speed                  float64
	ana                    analysis
}

type analysis struct {
	Span struct {
		DurationSeconds float64 `json:"duration_seconds"`
	}
	// Share is the measured share; exported only when resolved.
	Share struct {
		Ratio    float64
		Err      float64
		Resolved bool
	}
	Timeslice struct {
		Detected   bool
		Share      float64
		ShareErr   float64 `json:"share_err"`
		Slice      float64 `json:"slice_seconds"`
		Period     float64 `json:"period_seconds"`
		VFs        int
		Confidence float64
	}
	WindowsTotal struct {
		SwitchedOut struct{ Seconds float64 } `json:"switched_out"`
		All         float64
	} `json:"windows_total"`
	Windows []struct {
		Duration float64 `json:"duration_seconds"`
		Kind     string
	}
	Rings []struct {
		Name      string
		Processes []struct {
			Comm    string
			PID     int
			Busy    float64 `json:"busy_seconds"`
			Stalled float64 `json:"stalled_seconds"`
		}
	}
	Input struct {
		Lost uint64 `json:"lost_events"`
	}
}

func buildGpuwatch(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "gpuwatch")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/gpuwatch/gpuwatch/cmd/gpuwatch").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// within reports whether got is want to tol: absolute below 1, relative
// above.
func within(got, want, tol float64) bool { return math.Abs(got-want) <= tol*max(1, math.Abs(want)) }

// pushGuests replays each guest's trace with `gpuwatch watch --push`, all
// at once, each with its own labels and --expect 1/2. The speeds make each
// replay last a few seconds, so that VictoriaMetrics gets several samples
// per series (rates need two) and, at exit, the final values.
func pushGuests(t *testing.T, bin, push string, guests []*guest) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make([]error, len(guests))
	for i, g := range guests {
		out, err := exec.Command(bin, "analyze", "--json", g.trace).Output()
		if err != nil {
			// exit 1 is a failed verdict; analyze has none here.
			t.Fatalf("gpuwatch analyze %s: %v", g.trace, err)
		}
		if err := json.Unmarshal(out, &g.ana); err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, bin, "watch", "--replay", g.trace, "--speed", fmt.Sprint(g.speed),
				"--interval", "500ms", "--json", "--listen", "", "--push", push, "--expect", "1/2",
				"--label", "guest="+g.name, "--label", "host="+g.host, "--label", "gpu="+g.gpu)
			var stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = io.Discard, &stderr
			err := cmd.Run()
			// Exit status 1 is a failed verdict (guest b gets a third).
			if ee, ok := err.(*exec.ExitError); ok && ee.ExitCode() == 1 && stderr.Len() == 0 {
				err = nil
			}
			if err != nil {
				errs[i] = fmt.Errorf("gpuwatch watch --replay %s: %v\n%s", g.trace, err, stderr.String())
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
}

// fleet returns the three guests the VictoriaMetrics tests replay: two
// sharing host h1's GPU (they disagree on the VFs: 2 and 4), one on h2.
func fleet() []*guest {
	tr := func(f string) string { return filepath.Join("..", "testdata", "traces", f) }
	return []*guest{
		{name: "a", host: "h1", gpu: "0", trace: tr("sim-strict-2vf-6ms-4.16.report"), speed: 0.1},
		{name: "b", host: "h1", gpu: "0", trace: tr("sim-skip-4vf-3ms-6.17ns.report"), speed: 0.1},
		{name: "c", host: "h2", gpu: "0", trace: tr("seed-s7150-half.report"), speed: 0.02},
	}
}

// dashboard is the part of the Grafana JSON the test reads.
type dashboard struct {
	Panels []struct {
		ID      int
		Title   string
		Targets []struct {
			RefID string `json:"refId"`
			Expr  string
		}
	}
	Templating struct {
		List []struct{ Name, Type string }
	}
}

func loadDashboard(t *testing.T) *dashboard {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("grafana", "gpuwatch.json"))
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("grafana/gpuwatch.json: %v", err)
	}
	return &d
}

// substitute replaces the dashboard's template variables as Grafana would
// with "All" selected (or the given guest). The rate interval is an hour:
// wider than the whole test, so each rate covers all the samples pushed.
func substitute(expr, guest string) string {
	return strings.NewReplacer("$__rate_interval", "1h", "$host", ".*", "$guest", guest).Replace(expr)
}

var leftover = regexp.MustCompile(`\$\{?\w+`)

// TestFleetOnVictoriaMetrics is the many-guests story end to end: three
// replayed guests push to a real VictoriaMetrics with distinct labels;
// every dashboard query and every rule (run by vmalert, and each
// recording rule's expression run directly) is checked against what
// `gpuwatch analyze` says about each trace.
func TestFleetOnVictoriaMetrics(t *testing.T) {
	vm := startVictoriaMetrics(t)
	vmalert := tool(t, "vmalert", "victoria-metrics")
	bin := buildGpuwatch(t)
	guests := fleet()
	pushGuests(t, bin, vm.base+"/api/v1/import/prometheus", guests)
	byName := map[string]*guest{}
	for _, g := range guests {
		byName[g.name] = g
		if !g.ana.Timeslice.Detected {
			t.Fatalf("analyze detects no schedule in %s: the test needs one", g.trace)
		}
	}

	// The final push (at exit) has arrived: every guest's span and share
	// are the final ones.
	for _, g := range guests {
		eventually(t, "final values of guest "+g.name, func() error {
			for q, want := range map[string]float64{
				fmt.Sprintf(`gpuwatch_trace_seconds{guest=%q}`, g.name): g.ana.Span.DurationSeconds,
				fmt.Sprintf(`gpuwatch_share_ratio{guest=%q}`, g.name):   shareOf(g),
			} {
				s, err := vm.query(q)
				if err != nil {
					return err
				}
				if math.IsNaN(want) {
					if len(s) != 0 {
						return fmt.Errorf("%s = %v, want no series (the share is unresolved)", q, s)
					}
					continue
				}
				if len(s) != 1 || !within(s[0].Value, want, 1e-6) {
					return fmt.Errorf("%s = %v, want %v", q, s, want)
				}
			}
			return nil
		})
	}
	if t.Failed() {
		t.FailNow()
	}

	t.Run("dashboard", func(t *testing.T) { checkDashboard(t, vm, byName) })

	alerts := startVmalert(t, vmalert, vm)
	t.Run("rules", func(t *testing.T) {
		checkRules(t, vm, alerts, byName)
		// Only guest b (a third of the GPU, expecting a half) is short,
		// pending for its 5 minutes; nothing else is active.
		checkAlerts(t, alerts, "GpuwatchShareBelowExpected/b/pending")
	})
}

// startVmalert runs vmalert on both rule files against VictoriaMetrics,
// evaluating every second and writing the recorded series back; alerts go
// to a notifier that discards them. It returns vmalert's URL.
func startVmalert(t *testing.T, vmalert string, vm *vmServer) string {
	t.Helper()
	notifier := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.Copy(io.Discard, r.Body) }))
	t.Cleanup(notifier.Close)
	addr := freeAddr(t)
	args := []string{"-datasource.url=" + vm.base, "-remoteWrite.url=" + vm.base, "-notifier.url=" + notifier.URL,
		"-evaluationInterval=1s", "-datasource.queryTimeAlignment=false", "-httpListenAddr=" + addr, "-loggerLevel=ERROR"}
	for _, f := range ruleFiles {
		args = append(args, "-rule="+f)
	}
	start(t, "http://"+addr+"/health", vmalert, args...)
	return "http://" + addr
}

// TestAlertsQuietOnOnePush: a guest that pushed once (a replay shorter
// than the push interval, ending with jobs outstanding and a share that
// meets its expectation) raises no alert.
func TestAlertsQuietOnOnePush(t *testing.T) {
	vm := startVictoriaMetrics(t)
	vmalert := tool(t, "vmalert", "victoria-metrics")
	bin := buildGpuwatch(t)
	g := fleet()[2]
	g.speed = 0 // as fast as possible: only the push at exit
	pushGuests(t, bin, vm.base+"/api/v1/import/prometheus", []*guest{g})
	eventually(t, "one sample of guest "+g.name, func() error {
		ts, _, err := vm.raw(sel("gpuwatch_lost_events_total", g, ""))
		if err == nil && len(ts) != 1 {
			err = fmt.Errorf("%d samples, want 1", len(ts))
		}
		return err
	})
	in, err := vm.query(sel("gpuwatch_in_flight_jobs", g, "") + " > 0")
	if err != nil || len(in) == 0 {
		t.Fatalf("the replay of %s ends with no job outstanding (%v, %v): the test needs one", g.trace, in, err)
	}
	alerts := startVmalert(t, vmalert, vm)
	checkRules(t, vm, alerts, nil)
	checkAlerts(t, alerts)
}

// checkDashboard runs every target of every panel, with all guests and
// with guest b alone, and checks the series and values each returns.
func checkDashboard(t *testing.T, vm *vmServer, guests map[string]*guest) {
	d := loadDashboard(t)
	vars := map[string]bool{}
	for _, v := range d.Templating.List {
		vars[v.Name] = true
	}
	for _, v := range []string{"datasource", "host", "guest"} {
		if !vars[v] {
			t.Errorf("dashboard lacks the %s variable", v)
		}
	}
	if len(d.Panels) < 6 {
		t.Errorf("dashboard has %d panels", len(d.Panels))
	}
	ran := 0
	for _, p := range d.Panels {
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			key := p.Title + "/" + tg.RefID
			check, ok := panelChecks[key]
			if !ok {
				t.Errorf("panel target %s (%s) has no expectation in the test", key, tg.Expr)
				continue
			}
			for _, sel := range []string{".*", "b"} {
				q := substitute(tg.Expr, sel)
				if m := leftover.FindString(q); m != "" {
					t.Errorf("%s: %s left in %s", key, m, q)
					continue
				}
				eventually(t, key+" ("+q+")", func() error {
					got, err := vm.query(q)
					if err != nil {
						return err
					}
					want := guests
					if sel != ".*" {
						want = map[string]*guest{sel: guests[sel]}
					}
					return check(vm, got, want)
				})
				ran++
			}
		}
	}
	t.Logf("ran %d panel queries", ran)
}

// perGuest checks that got has exactly one series per guest, with the
// value want(g) to tol.
// shareOf is the measured share analyze gives g, NaN when unresolved (no
// series then).
func shareOf(g *guest) float64 {
	if !g.ana.Share.Resolved {
		return math.NaN()
	}
	return g.ana.Share.Ratio
}

// perGuest checks one series per guest, valued want(guest); a guest whose
// want is NaN must have none.
func perGuest(got []sample, guests map[string]*guest, want func(*guest) float64, tol float64) error {
	seen := map[string]bool{}
	expected := 0
	for _, g := range guests {
		if !math.IsNaN(want(g)) {
			expected++
		}
	}
	for _, s := range got {
		g := guests[s.Labels["guest"]]
		if g == nil {
			return fmt.Errorf("unexpected series %v", s)
		}
		if seen[g.name] {
			return fmt.Errorf("guest %s twice: %v", g.name, got)
		}
		seen[g.name] = true
		if s.Labels["host"] != g.host || s.Labels["gpu"] != g.gpu {
			return fmt.Errorf("guest %s: labels %v", g.name, s)
		}
		if w := want(g); math.IsNaN(w) || !within(s.Value, w, tol) {
			return fmt.Errorf("guest %s: %v, want %v", g.name, s.Value, w)
		}
	}
	if len(seen) != expected {
		return fmt.Errorf("%d guests of %d: %v", len(seen), expected, got)
	}
	return nil
}

// rateOf is what the query engine's rate over a window holding all of a
// series' samples gives: (last - first) / (t_last - t_first), per second.
func rateOf(vm *vmServer, selector string) (float64, error) {
	ts, vals, err := vm.raw(selector)
	if err != nil {
		return 0, err
	}
	if len(ts) < 2 {
		return 0, fmt.Errorf("%s: %d samples, a rate needs 2", selector, len(ts))
	}
	return (vals[len(vals)-1] - vals[0]) / (ts[len(ts)-1] - ts[0]), nil
}

func sel(metric string, g *guest, more string) string {
	return fmt.Sprintf(`%s{guest=%q%s}`, metric, g.name, more)
}

// longest is the longest window with work outstanding in analyze's list.
func longest(g *guest) float64 {
	m := 0.0
	for _, w := range g.ana.Windows {
		if w.Kind != "guest_idle" {
			m = max(m, w.Duration)
		}
	}
	return m
}

// panelChecks holds the expectation for each dashboard target, by panel
// title and refId.
var panelChecks = map[string]func(vm *vmServer, got []sample, guests map[string]*guest) error{
	"Share against expected, per guest/A": func(_ *vmServer, got []sample, gs map[string]*guest) error {
		return perGuest(got, gs, shareOf, 1e-6)
	},
	"Share against expected, per guest/B": func(_ *vmServer, got []sample, gs map[string]*guest) error {
		return perGuest(got, gs, func(g *guest) float64 { return g.ana.Timeslice.Slice / g.ana.Timeslice.Period }, 1e-5)
	},
	"Share against expected, per guest/C": func(_ *vmServer, got []sample, gs map[string]*guest) error {
		return perGuest(got, gs, func(*guest) float64 { return 0.5 }, 0)
	},
	"Slice and period/A": func(_ *vmServer, got []sample, gs map[string]*guest) error {
		return perGuest(got, gs, func(g *guest) float64 { return g.ana.Timeslice.Slice }, 1e-9)
	},
	"Slice and period/B": func(_ *vmServer, got []sample, gs map[string]*guest) error {
		return perGuest(got, gs, func(g *guest) float64 { return g.ana.Timeslice.Period }, 1e-9)
	},
	"Switch-out windows per minute/A": func(vm *vmServer, got []sample, gs map[string]*guest) error {
		for _, g := range gs {
			ts, vals, err := vm.raw(sel("gpuwatch_switched_out_seconds_total", g, ""))
			if err != nil {
				return err
			}
			if last := vals[len(vals)-1]; !within(last, g.ana.WindowsTotal.SwitchedOut.Seconds, 1e-9) {
				return fmt.Errorf("guest %s: switched out %v s at the end (%d samples at %v), analyze says %v", g.name, last, len(vals), ts, g.ana.WindowsTotal.SwitchedOut.Seconds)
			}
		}
		return perRate(vm, got, gs, "gpuwatch_switched_out_seconds_total")
	},
	"Switch-out windows per minute/B": func(vm *vmServer, got []sample, gs map[string]*guest) error {
		return perRate(vm, got, gs, "gpuwatch_windows_total")
	},
	"Longest recent switch-out/A": func(_ *vmServer, got []sample, gs map[string]*guest) error {
		return perGuest(got, gs, longest, 1e-9)
	},
	"Stalled % per process/A": func(_ *vmServer, got []sample, gs map[string]*guest) error {
		want := map[string]float64{}
		for _, g := range gs {
			for _, r := range g.ana.Rings {
				for _, p := range r.Processes {
					if p.Busy > 0 {
						want[fmt.Sprintf("%s/%s/%s/%d", g.name, r.Name, p.Comm, p.PID)] = 100 * p.Stalled / p.Busy
					}
				}
			}
		}
		if len(got) != len(want) {
			return fmt.Errorf("%d series, want %d: %v", len(got), len(want), got)
		}
		for _, s := range got {
			k := fmt.Sprintf("%s/%s/%s/%s", s.Labels["guest"], s.Labels["ring"], s.Labels["comm"], s.Labels["pid"])
			w, ok := want[k]
			if !ok || !within(s.Value, w, 1e-3) {
				return fmt.Errorf("%s: %v, want %v (%v)", k, s.Value, w, ok)
			}
		}
		return nil
	},
	"Lost events/A": func(_ *vmServer, got []sample, gs map[string]*guest) error {
		return perGuest(got, gs, func(g *guest) float64 { return float64(g.ana.Input.Lost) }, 0)
	},
	"Lost events/B": func(vm *vmServer, got []sample, gs map[string]*guest) error {
		return perGuest(got, gs, func(g *guest) float64 {
			// The sum over the tracepoints of each one's rate.
			sum := 0.0
			for _, ev := range eventNames(vm, g) {
				r, err := rateOf(vm, sel("gpuwatch_events_total", g, fmt.Sprintf(",event=%q", ev)))
				if err != nil {
					return math.NaN()
				}
				sum += r
			}
			return sum
		}, 1e-6)
	},
	"Confidence/A": func(_ *vmServer, got []sample, gs map[string]*guest) error {
		return perGuest(got, gs, func(g *guest) float64 { return g.ana.Timeslice.Confidence }, 1e-6)
	},
	"Confidence/B": func(_ *vmServer, got []sample, gs map[string]*guest) error {
		return perGuest(got, gs, func(*guest) float64 { return 1 }, 0)
	},
	"VFs as the guests see them/A": func(_ *vmServer, got []sample, gs map[string]*guest) error {
		return perGuest(got, gs, func(g *guest) float64 { return float64(g.ana.Timeslice.VFs) }, 0)
	},
}

// perRate checks 60 × the rate of metric per guest against the raw
// samples, and that it is positive.
func perRate(vm *vmServer, got []sample, gs map[string]*guest, metric string) error {
	var rerr error
	err := perGuest(got, gs, func(g *guest) float64 {
		r, err := rateOf(vm, sel(metric, g, ""))
		if err != nil {
			rerr = err
		}
		return 60 * r
		// VictoriaMetrics rounds values (12 significant digits) and
		// timestamps (ms) its own way: rates agree to about 1e-8.
	}, 1e-6)
	if rerr != nil {
		return rerr
	}
	if err != nil {
		return err
	}
	for _, s := range got {
		if s.Value <= 0 {
			return fmt.Errorf("%s per minute of guest %s is %v", metric, s.Labels["guest"], s.Value)
		}
	}
	return nil
}

// eventNames lists the tracepoints guest g's events_total has.
func eventNames(vm *vmServer, g *guest) []string {
	s, err := vm.query(sel("gpuwatch_events_total", g, ""))
	if err != nil {
		return nil
	}
	var out []string
	for _, x := range s {
		out = append(out, x.Labels["event"])
	}
	return out
}

// vmalertRule is a rule as vmalert's /api/v1/rules lists it.
type vmalertRule struct {
	Name, Type, Query, Health, LastError string
	Labels                               map[string]string
	LastEvaluation                       time.Time
}

// checkRules waits for vmalert to evaluate every rule and checks that
// each evaluated without error. With guests, it then runs each recording
// rule's expression through the query API and checks its result, and the
// series vmalert recorded.
func checkRules(t *testing.T, vm *vmServer, vmalert string, guests map[string]*guest) {
	var rules []vmalertRule
	since := time.Now()
	eventually(t, "vmalert evaluates every rule", func() error {
		var r struct {
			Data struct {
				Groups []struct{ Rules []vmalertRule }
			}
		}
		if err := getJSON(vmalert+"/api/v1/rules", &r); err != nil {
			return err
		}
		rules = rules[:0]
		for _, g := range r.Data.Groups {
			rules = append(rules, g.Rules...)
		}
		if len(rules) == 0 {
			return fmt.Errorf("no rules loaded")
		}
		for _, r := range rules {
			if r.LastEvaluation.Before(since) {
				return fmt.Errorf("rule %s not evaluated yet", r.Name)
			}
		}
		return nil
	})
	if t.Failed() {
		return
	}
	recording := 0
	for _, r := range rules {
		if r.Health != "ok" || r.LastError != "" {
			t.Errorf("rule %s: health %q: %s", r.Name, r.Health, r.LastError)
		}
		if r.Type != "recording" || guests == nil {
			continue
		}
		recording++
		key := r.Name
		if q := r.Labels["quantile"]; q != "" {
			key += "/" + q
		}
		check, ok := recordingChecks[key]
		if !ok {
			t.Errorf("recording rule %s has no expectation in the test", key)
			continue
		}
		eventually(t, "recording rule "+key, func() error {
			got, err := vm.query(r.Query)
			if err != nil {
				return err
			}
			if err := check(vm, got, guests); err != nil {
				return fmt.Errorf("expression %s: %w", r.Query, err)
			}
			// The series vmalert wrote back hold the same values.
			m := r.Name + "{"
			for k, v := range r.Labels {
				m += fmt.Sprintf("%s=%q,", k, v)
			}
			rec, err := vm.query(m + "}")
			if err != nil {
				return err
			}
			for i := range rec {
				delete(rec[i].Labels, "__name__")
				for k := range r.Labels {
					delete(rec[i].Labels, k)
				}
			}
			if err := check(vm, rec, guests); err != nil {
				return fmt.Errorf("recorded %s: %w", r.Name, err)
			}
			return nil
		})
	}
	if recording < 5 && guests != nil {
		t.Errorf("%d recording rules", recording)
	}
}

// getJSON decodes the JSON answer of a GET.
func getJSON(u string, v any) error {
	resp, err := http.Get(u)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		return fmt.Errorf("GET %s: %w", u, err)
	}
	return nil
}

// checkAlerts checks that the active alerts (name/guest/state) are want.
func checkAlerts(t *testing.T, vmalert string, want ...string) {
	t.Helper()
	eventually(t, "active alerts", func() error {
		var r struct {
			Data struct {
				Alerts []struct {
					Name, State string
					Labels      map[string]string
				}
			}
		}
		if err := getJSON(vmalert+"/api/v1/alerts", &r); err != nil {
			return err
		}
		got := []string{}
		for _, a := range r.Data.Alerts {
			got = append(got, a.Name+"/"+a.Labels["guest"]+"/"+a.State)
		}
		sort.Strings(got)
		if !slices.Equal(got, append([]string{}, want...)) {
			return fmt.Errorf("alerts %v, want %v", got, want)
		}
		return nil
	})
}

// recordingChecks holds the expectation for each recording rule, by
// record name (and quantile label).
var recordingChecks = map[string]func(vm *vmServer, got []sample, guests map[string]*guest) error{
	"host:gpuwatch_share_ratio:quantile/0": func(_ *vmServer, got []sample, gs map[string]*guest) error {
		return perHost(got, gs, "host", func(shares []float64) float64 { return slices.Min(shares) })
	},
	"host:gpuwatch_share_ratio:quantile/0.5": func(_ *vmServer, got []sample, gs map[string]*guest) error {
		return perHost(got, gs, "host", median)
	},
	"host:gpuwatch_share_ratio:quantile/1": func(_ *vmServer, got []sample, gs map[string]*guest) error {
		return perHost(got, gs, "host", func(shares []float64) float64 { return slices.Max(shares) })
	},
	"host:gpuwatch_guests:count": func(_ *vmServer, got []sample, gs map[string]*guest) error {
		want := map[string]float64{}
		for _, g := range gs {
			want[g.host]++
		}
		return keyed(got, want, func(l map[string]string) string { return l["host"] })
	},
	"host_gpu:gpuwatch_vfs:count_values": func(_ *vmServer, got []sample, gs map[string]*guest) error {
		want := map[string]float64{}
		for _, g := range gs {
			want[fmt.Sprintf("%s/%s/%d", g.host, g.gpu, g.ana.Timeslice.VFs)]++
		}
		return keyed(got, want, func(l map[string]string) string { return l["host"] + "/" + l["gpu"] + "/" + l["vfs"] })
	},
	"host_gpu:gpuwatch_vfs:max": func(_ *vmServer, got []sample, gs map[string]*guest) error {
		want := map[string]float64{}
		for _, g := range gs {
			k := g.host + "/" + g.gpu
			want[k] = max(want[k], float64(g.ana.Timeslice.VFs))
		}
		return keyed(got, want, func(l map[string]string) string { return l["host"] + "/" + l["gpu"] })
	},
	"gpuwatch:switched_out_seconds_per_minute:rate5m": func(vm *vmServer, got []sample, gs map[string]*guest) error {
		return perRate(vm, got, gs, "gpuwatch_switched_out_seconds_total")
	},
}

func median(v []float64) float64 {
	s := slices.Sorted(slices.Values(v))
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// perHost checks one series per host, valued f(the host's guests' shares).
func perHost(got []sample, gs map[string]*guest, label string, f func([]float64) float64) error {
	shares := map[string][]float64{}
	for _, g := range gs {
		if sh := shareOf(g); !math.IsNaN(sh) {
			shares[g.host] = append(shares[g.host], sh)
		}
	}
	want := map[string]float64{}
	for h, s := range shares {
		want[h] = f(s)
	}
	return keyed(got, want, func(l map[string]string) string { return l[label] })
}

// keyed checks that got holds exactly the series of want, by key, with
// its values (to 1e-6).
func keyed(got []sample, want map[string]float64, key func(map[string]string) string) error {
	if len(got) != len(want) {
		return fmt.Errorf("%d series, want %d (%v): %v", len(got), len(want), want, got)
	}
	for _, s := range got {
		k := key(s.Labels)
		w, ok := want[k]
		if !ok || !within(s.Value, w, 1e-6) {
			return fmt.Errorf("%s: %v, want %v (%v)", k, s.Value, w, want)
		}
	}
	return nil
}

// TestScrapeConfigWithVmagent runs vmagent on vmagent.yml, its static
// target and its file-discovered target pointed at two replaying
// gpuwatch guests, and checks that both arrive in VictoriaMetrics with
// the labels the configuration gives them.
func TestScrapeConfigWithVmagent(t *testing.T) {
	vmagent := tool(t, "vmagent", "victoria-metrics")
	vm := startVictoriaMetrics(t)
	bin := buildGpuwatch(t)
	trace := filepath.Join("..", "testdata", "traces", "sim-strict-2vf-6ms-4.16.report")
	static, discovered := freeAddr(t), freeAddr(t)
	for _, addr := range []string{static, discovered} {
		// Slow enough to be scraped several times (5 s interval).
		cmd := exec.Command(bin, "watch", "--replay", trace, "--speed", "0.002", "--json", "--listen", addr)
		cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	}

	// The shipped configuration, its static target moved to a free port,
	// and a targets file naming the other guest.
	dir := t.TempDir()
	cfg, err := os.ReadFile("vmagent.yml")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(cfg, []byte(`"127.0.0.1:9464"`)) {
		t.Fatal("vmagent.yml no longer has the static target 127.0.0.1:9464")
	}
	cfg = bytes.Replace(cfg, []byte(`"127.0.0.1:9464"`), []byte(strconv.Quote(static)), 1)
	if err := os.WriteFile(filepath.Join(dir, "vmagent.yml"), cfg, 0o644); err != nil {
		t.Fatal(err)
	}
	os.Mkdir(filepath.Join(dir, "targets"), 0o755)
	targets := fmt.Sprintf("- targets: [%q]\n  labels:\n    guest: vm9\n    host: h9\n", discovered)
	if err := os.WriteFile(filepath.Join(dir, "targets", "guests.yml"), []byte(targets), 0o644); err != nil {
		t.Fatal(err)
	}
	agent := freeAddr(t)
	start(t, "http://"+agent+"/health", vmagent, "-promscrape.config="+filepath.Join(dir, "vmagent.yml"),
		"-remoteWrite.url="+vm.base+"/api/v1/write", "-remoteWrite.tmpDataPath="+t.TempDir(),
		"-remoteWrite.flushInterval=500ms", "-httpListenAddr="+agent, "-loggerLevel=ERROR")

	for _, c := range []struct{ query, instance string }{
		{`up{job="gpuwatch",guest="local"}`, static},
		{`up{job="gpuwatch",guest="vm9",host="h9"}`, discovered},
		{`gpuwatch_build_info{job="gpuwatch",guest="local",source="replay"}`, static},
		{`gpuwatch_build_info{job="gpuwatch",guest="vm9",host="h9",source="replay"}`, discovered},
	} {
		eventually(t, c.query, func() error {
			got, err := vm.query(c.query)
			if err != nil {
				return err
			}
			if len(got) != 1 || got[0].Value != 1 || got[0].Labels["instance"] != c.instance {
				return fmt.Errorf("got %v, want one series of value 1 from %s", got, c.instance)
			}
			return nil
		})
	}
}
