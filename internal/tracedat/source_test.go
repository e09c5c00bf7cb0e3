package tracedat_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/gpuwatch/gpuwatch/internal/event"
	"github.com/gpuwatch/gpuwatch/internal/gaps"
	"github.com/gpuwatch/gpuwatch/internal/reporttext"
	"github.com/gpuwatch/gpuwatch/internal/tracedat"
	"github.com/gpuwatch/gpuwatch/internal/tracefs/livetest"
	"github.com/gpuwatch/gpuwatch/internal/tracepoint"
)

// recordDat fires a switch-out pattern of real uprobe events shaped like
// gen's scheduler events into a tracefs instance of its own, extracts it
// with trace-cmd into a trace.dat (version 7, zstd: trace-cmd 3's
// default), and returns the file and the pattern's truth.
func recordDat(t *testing.T, gen tracepoint.Generation) (string, *livetest.Pattern) {
	return recordDatFor(t, gen, 400*time.Millisecond, 0)
}

// recordDatFor records a pattern of duration d; with bufferKB > 0 the
// instance's per-CPU buffer is set to that size first (long recordings).
func recordDatFor(t *testing.T, gen tracepoint.Generation, d time.Duration, bufferKB int) (string, *livetest.Pattern) {
	t.Helper()
	if _, err := exec.LookPath("trace-cmd"); err != nil {
		livetest.Skip(t, "trace-cmd not installed (apt-get install trace-cmd)")
	}
	h := livetest.Setup(t, gen)
	inst := fmt.Sprintf("gwdat-%d", os.Getpid())
	dir := filepath.Join(h.Root, "instances", inst)
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatalf("creating instance: %v", err)
	}
	t.Cleanup(func() {
		// trace-cmd extract -B removes the instance; remove it otherwise.
		if _, err := os.Stat(dir); err == nil {
			for _, ev := range h.Events {
				sys, name, _ := cut(ev)
				os.WriteFile(filepath.Join(dir, "events", sys, name, "enable"), []byte("0"), 0)
			}
			os.Remove(dir)
		}
	})
	if bufferKB > 0 {
		if err := os.WriteFile(filepath.Join(dir, "buffer_size_kb"), []byte(fmt.Sprint(bufferKB)), 0); err != nil {
			t.Fatalf("sizing the buffer: %v", err)
		}
	}
	for _, ev := range h.Events {
		sys, name, _ := cut(ev)
		if err := os.WriteFile(filepath.Join(dir, "events", sys, name, "enable"), []byte("1"), 0); err != nil {
			t.Fatalf("enabling %s: %v", ev, err)
		}
	}
	p, err := h.RunPattern(context.Background(), d, 6*time.Millisecond, 6400*time.Microsecond, 250*time.Microsecond, 2)
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range h.Events {
		sys, name, _ := cut(ev)
		os.WriteFile(filepath.Join(dir, "events", sys, name, "enable"), []byte("0"), 0)
	}
	out := filepath.Join(t.TempDir(), "trace.dat")
	// trace-cmd extract reads /proc/kallsyms, which can change under it
	// while other tests load BPF programs ("error in size of file"):
	// retry a few times.
	var extractErr error
	for try := 0; try < 5; try++ {
		cmd := exec.Command("trace-cmd", "extract", "-B", inst, "-o", out)
		cmd.Dir = t.TempDir()
		b, err := cmd.CombinedOutput()
		if err == nil {
			extractErr = nil
			break
		}
		extractErr = fmt.Errorf("trace-cmd extract: %v\n%s", err, b)
		time.Sleep(200 * time.Millisecond)
	}
	if extractErr != nil {
		t.Fatal(extractErr)
	}
	if keep := os.Getenv("GPUWATCH_KEEP_DAT"); keep != "" {
		b, _ := os.ReadFile(out)
		os.WriteFile(filepath.Join(keep, gen.String()+".dat"), b, 0o644)
	}
	return out, p
}

func cut(ev string) (string, string, bool) {
	for i := 0; i < len(ev); i++ {
		if ev[i] == ':' {
			return ev[:i], ev[i+1:], true
		}
	}
	return ev, "", false
}

// openDat opens the trace.dat at path; the file closes with the test.
func openDat(t *testing.T, path string) *tracedat.Source {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	fi, _ := f.Stat()
	file, err := tracedat.Open(f, fi.Size(), path)
	if err != nil {
		t.Fatal(err)
	}
	src, err := tracedat.OpenSource(file)
	if err != nil {
		t.Fatal(err)
	}
	return src
}

func decodeDat(t *testing.T, path string) ([]event.Event, tracedat.Stats) {
	t.Helper()
	src := openDat(t, path)
	var evs []event.Event
	if err := event.Drain(src, func(ev event.Event) { evs = append(evs, ev) }); err != nil {
		t.Fatal(err)
	}
	return evs, src.Stats()
}

func decodeReport(t *testing.T, path string) []event.Event {
	t.Helper()
	out, err := exec.Command("trace-cmd", "report", "-t", path).Output()
	if err != nil {
		t.Fatalf("trace-cmd report: %v", err)
	}
	r := reporttext.NewReader(bytes.NewReader(out), "report")
	var evs []event.Event
	if err := event.Drain(r, func(ev event.Event) { evs = append(evs, ev) }); err != nil {
		t.Fatal(err)
	}
	if ws := r.Warnings(); len(ws) > 0 {
		t.Errorf("%d warnings reading trace-cmd's report, first: %v", len(ws), ws[0])
	}
	return evs
}

// TestDatMatchesReport: a real trace.dat (v7 zstd, and converted to v6
// and to v7 uncompressed) decodes event for event to what the text parser
// reads from `trace-cmd report -t` of the same file, and the analysis
// finds the pattern that was fired.
func TestDatMatchesReport(t *testing.T) {
	for _, gen := range []tracepoint.Generation{tracepoint.GenDRM, tracepoint.Gen617, tracepoint.GenAMD} {
		t.Run(gen.String(), func(t *testing.T) {
			path, p := recordDat(t, gen)
			want := decodeReport(t, path)
			if len(want) < 100 {
				t.Fatalf("trace-cmd report shows %d scheduler events: the recording failed", len(want))
			}
			variants := map[string]string{"v7-zstd": path}
			for name, args := range map[string][]string{
				"v6":      {"--file-version", "6"},
				"v7-none": {"--compression", "none"},
			} {
				out := filepath.Join(t.TempDir(), name+".dat")
				cmd := exec.Command("trace-cmd", append([]string{"convert", "-i", path, "-o", out}, args...)...)
				if b, err := cmd.CombinedOutput(); err != nil {
					t.Logf("trace-cmd convert %v: %v\n%s", args, err, b)
					continue
				}
				variants[name] = out
			}
			for name, file := range variants {
				got, st := decodeDat(t, file)
				if len(got) != len(want) {
					t.Errorf("%s: %d events from the trace.dat, %d from its report", name, len(got), len(want))
				}
				for i := range min(len(got), len(want)) {
					if got[i] != want[i] {
						t.Errorf("%s: event %d differs:\n dat    %+v\n report %+v", name, i, got[i], want[i])
						break
					}
				}
				if st.Lost != 0 {
					t.Errorf("%s: %d lost events", name, st.Lost)
				}
			}
			if !p.Clean() {
				// Other work on the machine held the firing program up:
				// what it fired is not the nominal schedule, so only the
				// event-for-event equality above is checked.
				t.Logf("the firing program was held up (%d gaps fired, not one per period): schedule checks skipped", len(p.Gaps))
				return
			}
			got, _ := decodeDat(t, path)
			e := gaps.New(gaps.Config{})
			for _, ev := range got {
				e.Feed(ev)
			}
			s := e.Snapshot()
			ts := s.Timeslice
			if !ts.Detected {
				t.Fatalf("no schedule detected in the trace.dat: %s", ts.Reason)
			}
			// The share must be right within its own stated uncertainty
			// (kernel timing adds real jitter to the fired pattern).
			if d, tol := ts.ScheduleShare-p.Share(), max(0.03, 3*ts.ScheduleShareErr); d > tol || d < -tol {
				t.Errorf("share %.3f ± %.3f (confidence %.2f), fired %.3f", ts.ScheduleShare, ts.ScheduleShareErr, ts.Confidence, p.Share())
			}
			if d := ts.Period - p.Period(); d > 300*time.Microsecond || d < -300*time.Microsecond {
				t.Errorf("period %v, fired %v", ts.Period, p.Period())
			}
		})
	}
}

// TestRecordBenchDat records a long trace.dat for cmd/speedbench:
//
//	GPUWATCH_BENCH_DAT=/tmp/bench.dat go test -run RecordBenchDat -timeout 10m ./internal/tracefs/
//	go run ./cmd/speedbench -dat /tmp/bench.dat
func TestRecordBenchDat(t *testing.T) {
	out := os.Getenv("GPUWATCH_BENCH_DAT")
	if out == "" {
		t.Skip("set GPUWATCH_BENCH_DAT=PATH to record a long trace.dat for cmd/speedbench")
	}
	path, _ := recordDatFor(t, tracepoint.GenDRM, 60*time.Second, 256<<10)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(out, b, 0o644); err != nil {
		t.Fatal(err)
	}
	evs, st := decodeDat(t, out)
	t.Logf("%s: %d bytes, %d events, %d lost", out, len(b), len(evs), st.Lost)
}

// CPUStarts is each CPU buffer's first page time: no later than the
// buffer's first event.
func TestDatCPUStarts(t *testing.T) {
	src := openDat(t, filepath.Join("..", "..", "testdata", "traces", "uprobe-drm-pattern.dat"))
	if s := src.CPUStarts(); len(s) != 0 {
		t.Errorf("before the first Next: %v", s)
	}
	first, err := src.Next()
	if err != nil {
		t.Fatal(err)
	}
	starts := src.CPUStarts()
	if len(starts) != 1 || starts[0] <= 0 || starts[0] > first.Time || first.Time-starts[0] > 1e9 {
		t.Errorf("CPU starts %v, first event at %d", starts, first.Time)
	}
}
