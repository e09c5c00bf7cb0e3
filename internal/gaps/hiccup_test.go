package gaps

import (
	"compress/gzip"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gpuwatch/gpuwatch/internal/event"
	"github.com/gpuwatch/gpuwatch/internal/reporttext"
)

// TestHeldUpGuest: real traces (testdata/hiccups, see its README) of a
// fired 6 ms on / 6.4 ms off pattern whose firing process was held up now
// and then (completions delivered late, in bursts). The schedule must be
// found, and right: each of these gave no schedule or a share 2–4 pp off
// with a high confidence before the estimator learnt to set bursts aside.
func TestHeldUpGuest(t *testing.T) {
	const wantShare = 6.0 / 12.4
	files, _ := filepath.Glob("testdata/hiccups/*.report.gz")
	if len(files) < 3 {
		t.Fatalf("found %d fixtures in testdata/hiccups", len(files))
	}
	for _, path := range files {
		t.Run(filepath.Base(path), func(t *testing.T) {
			f, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			zr, err := gzip.NewReader(f)
			if err != nil {
				t.Fatal(err)
			}
			r := reporttext.NewReader(zr, path)
			e := New(Config{})
			if err := event.Drain(r, e.Feed); err != nil {
				t.Fatal(err)
			}
			if w := r.Warnings(); len(w) > 0 {
				t.Fatalf("%d warnings, first: %v", len(w), w[0])
			}
			ts := e.Snapshot().Timeslice
			if !ts.Detected || ts.Mode != ModeFixed {
				t.Fatalf("detected %v, mode %s: %s", ts.Detected, ts.Mode, ts.Reason)
			}
			if d := ts.Period - 12400*time.Microsecond; d.Abs() > 20*time.Microsecond {
				t.Errorf("period %v, fired 12.4ms", ts.Period)
			}
			// within a third of a job (250 µs) of the fired slice
			if d := math.Abs(ts.ScheduleShare - wantShare); d > 0.007 {
				t.Errorf("share %.4f ± %.4f (confidence %.2f), fired %.4f", ts.ScheduleShare, ts.ScheduleShareErr, ts.Confidence, wantShare)
			}
			if ts.VFs != 2 {
				t.Errorf("VFs %d, want 2", ts.VFs)
			}
		})
	}
}
