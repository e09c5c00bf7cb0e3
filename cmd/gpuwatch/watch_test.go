package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gpuwatch/gpuwatch/internal/event"
	"github.com/gpuwatch/gpuwatch/internal/reporttext"
	"github.com/gpuwatch/gpuwatch/internal/tracefs/livetest"
	"github.com/gpuwatch/gpuwatch/internal/tracepoint"
)

// TestWatchRefusals: a tracefs without scheduler events, and no tracefs at
// all: one sentence each, exit 2.
func TestWatchRefusals(t *testing.T) {
	if os.Geteuid() != 0 {
		var out, errb bytes.Buffer
		if code := run([]string{"watch", "--source", "tracefs", "--json"}, &out, &errb); code != exitUsage {
			t.Fatalf("exit %d, want 2", code)
		}
		if !strings.Contains(errb.String(), "needs root") {
			t.Errorf("stderr %q", errb.String())
		}
		return
	}
	root := t.TempDir()
	for _, tc := range []struct {
		setup func()
		want  string
	}{
		{func() {}, "gpuwatch: tracefs is not mounted and could not be mounted: mount it with 'mount -t tracefs nodev /sys/kernel/tracing' (" + root + " has no events directory)\n"},
		{func() {
			d := filepath.Join(root, "events", "sched", "sched_switch")
			os.MkdirAll(d, 0o755)
			os.WriteFile(filepath.Join(d, "format"), []byte("name: sched_switch\nID: 1\n"), 0o644)
		}, "gpuwatch: no gpu_scheduler or gpu_sched events in tracefs: is amdgpu or another drm_sched driver loaded?\n"},
	} {
		tc.setup()
		var out, errb bytes.Buffer
		code := run([]string{"watch", "--source", "tracefs", "--tracefs", root, "--json"}, &out, &errb)
		if code != exitUsage {
			t.Errorf("exit %d, want 2", code)
		}
		if errb.String() != tc.want {
			t.Errorf("stderr %q, want %q", errb.String(), tc.want)
		}
		if out.Len() != 0 {
			t.Errorf("stdout %q, want nothing", out.String())
		}
	}
	// auto falls back to tracefs, saying why.
	var out, errb bytes.Buffer
	run([]string{"watch", "--tracefs", root, "--json"}, &out, &errb)
	if !strings.HasPrefix(errb.String(), "gpuwatch: eBPF source unavailable (") || !strings.Contains(errb.String(), "; using tracefs\n") {
		t.Logf("auto: %q (eBPF may be available)", errb.String())
	}
}

func buildGpuwatch(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "gpuwatch")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// watchProc is a running `gpuwatch watch`.
type watchProc struct {
	cmd            *exec.Cmd
	stdout, stderr bytes.Buffer
	inst           string
}

func startWatch(t *testing.T, h *livetest.Harness, bin string, args ...string) *watchProc {
	t.Helper()
	p := &watchProc{}
	p.cmd = exec.Command(bin, append([]string{"watch", "--source", "tracefs", "--tracefs", h.Root}, args...)...)
	p.cmd.Stdout, p.cmd.Stderr = &p.stdout, &p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			p.cmd.Process.Kill()
			p.cmd.Wait()
		}
	})
	// Ready once its instance (gpuwatch-<pid>-<random>) exists, traces,
	// and has every event of the harness enabled (a new instance traces
	// from its creation, before any event is enabled: tracing_on alone
	// is not enough on a loaded machine).
	deadline := time.Now().Add(60 * time.Second) // a loaded machine builds and starts slowly
	for {
		insts, _ := filepath.Glob(filepath.Join(h.Root, "instances", "gpuwatch-"+strconv.Itoa(p.cmd.Process.Pid)+"-*"))
		for _, inst := range insts {
			if b, err := os.ReadFile(filepath.Join(inst, "tracing_on")); err != nil || strings.TrimSpace(string(b)) != "1" {
				continue
			}
			if !allEnabled(inst, h.Events) {
				continue
			}
			p.inst = inst
			time.Sleep(20 * time.Millisecond)
			return p
		}
		if time.Now().After(deadline) {
			t.Fatalf("gpuwatch did not start: %s", p.stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// allEnabled reports whether the instance's set_event lists every event
// ("system:event").
func allEnabled(inst string, events []string) bool {
	b, err := os.ReadFile(filepath.Join(inst, "set_event"))
	if err != nil {
		return false
	}
	on := map[string]bool{}
	for _, l := range strings.Fields(string(b)) {
		on[l] = true
	}
	for _, e := range events {
		if !on[e] {
			return false
		}
	}
	return true
}

func (p *watchProc) wait(t *testing.T) int {
	t.Helper()
	err := p.cmd.Wait()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return 0
}

// finish sends sig, expects exit status 0 and returns the final object.
func (p *watchProc) finish(t *testing.T, sig os.Signal) watchLine {
	t.Helper()
	p.cmd.Process.Signal(sig)
	if code := p.wait(t); code != 0 {
		t.Fatalf("%v: exit %d: %s", sig, code, p.stderr.String())
	}
	ls := parseWatch(t, p.stdout.Bytes())
	return ls[len(ls)-1]
}

type watchLine struct {
	Source          string   `json:"source"`
	Events          uint64   `json:"events"`
	LostEvents      uint64   `json:"lost_events"`
	EventsPerSecond float64  `json:"events_per_second"`
	Final           bool     `json:"final"`
	Warnings        []string `json:"warnings"`
	Steal           *struct {
		IRQCPU        int       `json:"irq_cpu"`
		PerCPUSeconds []float64 `json:"per_cpu_seconds"`
	} `json:"steal"`
	Input struct {
		ByEvent map[string]uint64 `json:"by_event"`
	} `json:"input"`
	Timeslice struct {
		Detected     bool    `json:"detected"`
		SliceSeconds float64 `json:"slice_seconds"`
		PeriodSecond float64 `json:"period_seconds"`
		Share        float64 `json:"share"`
	} `json:"timeslice"`
	Windows []struct {
		StartSeconds    float64 `json:"start_seconds"`
		EndSeconds      float64 `json:"end_seconds"`
		DurationSeconds float64 `json:"duration_seconds"`
		Kind            string  `json:"kind"`
	} `json:"windows"`
}

func parseWatch(t *testing.T, b []byte) []watchLine {
	t.Helper()
	var ls []watchLine
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 16<<20)
	for sc.Scan() {
		var l watchLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("output line %q: %v", sc.Text(), err)
		}
		ls = append(ls, l)
	}
	if len(ls) == 0 || !ls[len(ls)-1].Final {
		t.Fatalf("no final object in %q", b)
	}
	return ls
}

// TestWatchLiveEndToEnd runs the real binary on real trace events fired in
// a 6 ms on / 6.4 ms off pattern, records them, and reads the recording
// back with analyze; tracefs is as before afterwards.
func TestWatchLiveEndToEnd(t *testing.T) {
	h := livetest.Setup(t, tracepoint.GenDRM)
	bin := buildGpuwatch(t)
	before := livetest.Snapshot(h.Root)
	rec := filepath.Join(t.TempDir(), "rec.report")
	// Ended by SIGINT once the program has fired everything (a fixed
	// --duration would cut a run held up by other work short).
	p := startWatch(t, h, bin, "--json", "--duration", "60s", "--interval", "500ms", "--record", rec)
	pat, err := h.RunPattern(context.Background(), 1500*time.Millisecond, 6*time.Millisecond, 6400*time.Microsecond, 250*time.Microsecond, 2)
	if err != nil {
		t.Fatal(err)
	}
	// Stopped right away: the events still in the kernel's buffers are
	// read at stop, so the counts are exact however late the reader is.
	p.cmd.Process.Signal(os.Interrupt)
	if code := p.wait(t); code != 0 {
		t.Fatalf("exit %d: %s", code, p.stderr.String())
	}
	ls := parseWatch(t, p.stdout.Bytes())
	if len(ls) < 2 {
		t.Errorf("%d objects in over 1.5 s at 500 ms", len(ls))
	}
	final := ls[len(ls)-1]
	if !pat.Clean() {
		t.Logf("the program was held up by other work: windows and timeslice not checked against the nominal pattern")
	}
	t.Logf("final: events %d lost %d timeslice %+v, %d windows; fired %d, clean %v", final.Events, final.LostEvents, final.Timeslice, len(final.Windows), pat.Fired(), pat.Clean())
	if final.Source != "tracefs" || final.Events != pat.Fired() || final.LostEvents != 0 {
		t.Errorf("final: source %q events %d lost %d, fired %d", final.Source, final.Events, final.LostEvents, pat.Fired())
	}
	var long int
	for _, g := range pat.Gaps {
		if g[1]-g[0] > int64(3*time.Millisecond) {
			long++
		}
	}
	var switched int
	for _, w := range final.Windows {
		// After the program ends its last jobs stay in flight: the
		// engine rightly shows that as a stall, outside the pattern.
		if (w.Kind == "switched_out" || w.Kind == "stall") && w.DurationSeconds > 0.003 && w.EndSeconds*1e9 <= float64(pat.Start+int64(pat.Duration)) {
			switched++
		} else if w.DurationSeconds > 0.003 {
			t.Logf("window after the pattern: %+v", w)
		}
	}
	if pat.Clean() {
		// On a clean run the program's gaps are the off phases.
		if switched != long {
			t.Errorf("%d windows over 3 ms, the program fired %d gaps that long", switched, long)
		}
		ts := final.Timeslice
		if !ts.Detected || math.Abs(ts.SliceSeconds-0.006) > 0.0003 || math.Abs(ts.Share-pat.Share()) > 0.03 {
			t.Errorf("timeslice %+v, fired slice 6 ms share %.3f", ts, pat.Share())
		}
	}
	if after := livetest.Snapshot(h.Root); after != before {
		t.Errorf("tracefs changed:\nbefore %+v\nafter  %+v", before, after)
	}

	// The recording reads back to the same run.
	out, err := exec.Command(bin, "analyze", "--json", rec).Output()
	if err != nil {
		t.Fatalf("analyze %s: %v", rec, err)
	}
	var doc struct {
		Input struct {
			Events  uint64            `json:"events"`
			ByEvent map[string]uint64 `json:"by_event"`
		} `json:"input"`
		Timeslice struct {
			Share float64 `json:"share"`
		} `json:"timeslice"`
	}
	if err := json.Unmarshal(out, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Input.Events != final.Events {
		t.Errorf("analyze of the recording: %d events; watch: %d", doc.Input.Events, final.Events)
	}
	for k, n := range final.Input.ByEvent {
		if doc.Input.ByEvent[k] != n {
			t.Errorf("analyze of the recording: %d %s events; watch: %d", doc.Input.ByEvent[k], k, n)
		}
	}
	if len(final.Input.ByEvent) == 0 {
		t.Errorf("the final object counts no events by name")
	}
	// The whole-run estimate offline, on a clean run, is the fired one too.
	if pat.Clean() && math.Abs(doc.Timeslice.Share-pat.Share()) > 0.03 {
		t.Errorf("analyze of the recording: share %.4f, fired %.4f", doc.Timeslice.Share, pat.Share())
	}
}

// TestWatchStopDrains: a burst as fast as the program fires, and SIGINT
// the moment it ends: the final object counts every event fired, read or
// lost, exactly.
func TestWatchStopDrains(t *testing.T) {
	h := livetest.Setup(t, tracepoint.GenDRM)
	bin := buildGpuwatch(t)
	p := startWatch(t, h, bin, "--json", "--listen", "")
	fired, err := h.RunLoad(context.Background(), time.Second, 0)
	if err != nil {
		t.Fatal(err)
	}
	final := p.finish(t, os.Interrupt)
	t.Logf("fired %d, events %d, lost %d", fired, final.Events, final.LostEvents)
	if final.Steal == nil || len(final.Steal.PerCPUSeconds) == 0 || final.Steal.IRQCPU < 0 {
		t.Errorf("a live run's final object has no steal time of the interrupt CPU: %+v", final.Steal)
	}
	if final.Events+final.LostEvents != fired {
		t.Errorf("events %d + lost %d = %d, fired %d", final.Events, final.LostEvents, final.Events+final.LostEvents, fired)
	}
}

// TestWatchSignals: SIGINT, SIGTERM, SIGHUP (terminal closed) and SIGQUIT
// mid-run each end it cleanly with a final object, leaving no instance and
// no enabled event; after SIGKILL the next start removes the abandoned
// instance.
func TestWatchSignals(t *testing.T) {
	h := livetest.Setup(t, tracepoint.GenDRM)
	bin := buildGpuwatch(t)
	before := livetest.Snapshot(h.Root)

	for _, sig := range []os.Signal{os.Interrupt, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT} {
		p := startWatch(t, h, bin, "--json", "--listen", "")
		if _, err := h.RunPattern(context.Background(), 300*time.Millisecond, 6*time.Millisecond, 6400*time.Microsecond, 250*time.Microsecond, 2); err != nil {
			t.Fatal(err)
		}
		if final := p.finish(t, sig); final.Events == 0 {
			t.Errorf("%v: final object without events", sig)
		}
		if after := livetest.Snapshot(h.Root); after != before {
			t.Errorf("after %v tracefs changed:\nbefore %+v\nafter  %+v", sig, before, after)
		}
	}

	p := startWatch(t, h, bin, "--json")
	p.cmd.Process.Kill()
	p.wait(t)
	if _, err := os.Stat(p.inst); err != nil {
		t.Fatalf("SIGKILL left no instance to clean up: %v", err)
	}
	p2 := startWatch(t, h, bin, "--json", "--duration", "300ms")
	if _, err := os.Stat(p.inst); err == nil {
		t.Errorf("the next start left the stale instance %s", p.inst)
	}
	if code := p2.wait(t); code != 0 {
		t.Fatalf("exit %d: %s", code, p2.stderr.String())
	}
	// The start says so, once, on stderr after the source line.
	said := 0
	for _, l := range strings.Split(p2.stderr.String(), "\n") {
		if strings.HasPrefix(l, "gpuwatch watch: removed ") && strings.Contains(l, " stale tracefs instance") && strings.Contains(l, filepath.Base(p.inst)) {
			said++
		}
	}
	if said != 1 {
		t.Errorf("the next start named the stale instance %s %d times on stderr, want once: %q", filepath.Base(p.inst), said, p2.stderr.String())
	}
	if after := livetest.Snapshot(h.Root); after != before {
		t.Errorf("after SIGKILL and a new run tracefs changed:\nbefore %+v\nafter  %+v", before, after)
	}
}

// TestWatchPIDNamespace: a second gpuwatch started in a PID namespace of
// its own (where the first one's pid means nothing) while a first one runs
// leaves the first one's instance alone: the first reads every event
// fired afterwards.
func TestWatchPIDNamespace(t *testing.T) {
	h := livetest.Setup(t, tracepoint.GenDRM)
	unshare := livetest.RequireTool(t, "unshare", "util-linux")
	bin := buildGpuwatch(t)
	before := livetest.Snapshot(h.Root)
	p := startWatch(t, h, bin, "--json", "--listen", "")

	out, err := exec.Command(unshare, "--pid", "--fork", "--mount-proc", bin, "watch", "--source", "tracefs", "--tracefs", h.Root, "--json", "--listen", "", "--duration", "1s").CombinedOutput()
	if err != nil {
		t.Fatalf("gpuwatch in a PID namespace: %v\n%s", err, out)
	}
	if b, err := os.ReadFile(filepath.Join(p.inst, "tracing_on")); err != nil || strings.TrimSpace(string(b)) != "1" {
		t.Errorf("the first gpuwatch's instance after the second ran: tracing_on %q, %v", b, err)
	}
	fired, err := h.RunLoad(context.Background(), 300*time.Millisecond, 20000)
	if err != nil {
		t.Fatal(err)
	}
	last := p.finish(t, os.Interrupt)
	t.Logf("fired %d after the second run; the first read %d, lost %d", fired, last.Events, last.LostEvents)
	if last.Events+last.LostEvents != fired {
		t.Errorf("the first gpuwatch read %d + lost %d events, %d were fired after the second ran", last.Events, last.LostEvents, fired)
	}
	if after := livetest.Snapshot(h.Root); after != before {
		t.Errorf("tracefs changed:\nbefore %+v\nafter  %+v", before, after)
	}
}

// TestWatchReplay runs the whole watch pipeline without root: a report of
// a 6 ms on / 6.4 ms off schedule (written here, the ground truth) is
// replayed as fast as possible; the JSON ends with a final object whose
// estimate is the schedule's, and --record writes the same events back.
func TestWatchReplay(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in.report")
	const on, off, job, n = 6_000_000, 6_400_000, 250_000, 2000
	f, err := os.Create(in)
	if err != nil {
		t.Fatal(err)
	}
	w := reporttext.NewWriter(f, reporttext.WriterOptions{Gen: tracepoint.GenDRM, Nanoseconds: true})
	ev := func(t0 int64, k event.Kind, id uint64) event.Event {
		return event.Event{Time: t0, PID: 7, Comm: "bench", Kind: k, Ring: "gfx", ID: id, Job: event.JobKey{Fence: 0x1000 + id*0x100}, JobCount: 0, HWJobCount: 2}
	}
	const start = int64(5_000_000_123)
	var evs []event.Event
	evs = append(evs, ev(start, event.KindRun, 0), ev(start, event.KindRun, 1))
	for k := int64(0); k < n; k++ {
		// Job k completes when the VF has held the GPU (k+1) jobs long.
		ontime := (k + 1) * job
		cyc, rem := ontime/on, ontime%on
		tt := start + cyc*(on+off) + rem
		if rem == 0 {
			tt = start + (cyc-1)*(on+off) + on
		}
		evs = append(evs, ev(tt, event.KindDone, uint64(k)), ev(tt+1000, event.KindRun, uint64(k+2)))
	}
	for _, e := range evs {
		if err := w.Write(e); err != nil {
			t.Fatal(err)
		}
	}
	if err := errors.Join(w.Flush(), f.Close()); err != nil {
		t.Fatal(err)
	}
	rec := filepath.Join(dir, "rec.report")
	var out, errb bytes.Buffer
	code := run([]string{"watch", "--replay", in, "--speed", "0", "--json", "--interval", "50ms", "--record", rec}, &out, &errb)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	ls := parseWatch(t, out.Bytes())
	final := ls[len(ls)-1]
	if final.Source != "replay" || final.Events != uint64(len(evs)) || final.LostEvents != 0 {
		t.Errorf("final: source %q events %d lost %d, wrote %d", final.Source, final.Events, final.LostEvents, len(evs))
	}
	ts := final.Timeslice
	share := float64(on) / float64(on+off)
	if !ts.Detected || math.Abs(ts.SliceSeconds-0.006) > 0.0001 || math.Abs(ts.PeriodSecond-0.0124) > 0.0001 || math.Abs(ts.Share-share) > 0.005 {
		t.Errorf("timeslice %+v, the schedule: slice 6 ms, period 12.4 ms, share %.4f", ts, share)
	}
	var b1, b2 bytes.Buffer
	run([]string{"analyze", "--json", in}, &b1, io.Discard)
	run([]string{"analyze", "--json", rec}, &b2, io.Discard)
	var d1, d2 struct {
		Input struct {
			Events  uint64            `json:"events"`
			ByEvent map[string]uint64 `json:"by_event"`
		} `json:"input"`
		Timeslice json.RawMessage `json:"timeslice"`
	}
	json.Unmarshal(b1.Bytes(), &d1)
	json.Unmarshal(b2.Bytes(), &d2)
	if d1.Input.Events == 0 || d1.Input.Events != d2.Input.Events || string(d1.Timeslice) != string(d2.Timeslice) {
		t.Errorf("the recording differs from the input:\n in %d events %s\nrec %d events %s", d1.Input.Events, d1.Timeslice, d2.Input.Events, d2.Timeslice)
	}
}

// TestWatchReplayWarnings: a replay prints the lines it skipped, file and
// line, as analyze does, and still analyses the rest.
func TestWatchReplayWarnings(t *testing.T) {
	seed, err := os.ReadFile("../../testdata/traces/seed-s7150-half.report")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(string(seed), "\n")
	const bad = 6
	bodyLine := "           foo-1     [000]  1.000001: drm_run_job: nonsense\n"
	in := filepath.Join(t.TempDir(), "in.report")
	if err := os.WriteFile(in, []byte(strings.Join(lines[:bad-1], "")+bodyLine+strings.Join(lines[bad-1:], "")), 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	if code := run([]string{"watch", "--replay", in, "--speed", "0", "--json", "--listen", ""}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	want := fmt.Sprintf("gpuwatch: %s:%d: expected ", in, bad)
	if !strings.Contains(errb.String(), want) || !strings.Contains(errb.String(), `got "nonsense"`) {
		t.Errorf("stderr %q, want the skipped line as %q…", errb.String(), want)
	}
	ls := parseWatch(t, out.Bytes())
	if final := ls[len(ls)-1]; final.Events == 0 {
		t.Errorf("final object: no events analysed")
	}
}
