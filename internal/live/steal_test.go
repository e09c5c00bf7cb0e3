package live

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gpuwatch/gpuwatch/internal/event"
	"github.com/gpuwatch/gpuwatch/internal/gaps"
)

// TestParseSteal reads /proc/stat as a 6.18 guest wrote it (two vCPUs,
// the intr line cut short).
func TestParseSteal(t *testing.T) {
	f, err := os.Open("testdata/proc-stat-2cpu.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got, err := ParseSteal(f)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile("testdata/proc-stat-2cpu.txt")
	// The eighth counter of the cpu0 and cpu1 lines, in USER_HZ.
	var want []float64
	for _, ln := range strings.Split(string(b), "\n") {
		if f := strings.Fields(ln); len(f) > 8 && strings.HasPrefix(f[0], "cpu") && f[0] != "cpu" {
			var v float64
			for _, c := range f[8] {
				v = v*10 + float64(c-'0')
			}
			want = append(want, v/100)
		}
	}
	if len(got) != 2 || len(want) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("steal %v, want %v", got, want)
	}
}

func TestParseStealErrors(t *testing.T) {
	for _, tc := range []struct{ text, want string }{
		{"cpu  1 2 3 4 5 6 7 8 0 0\ncpu0 1 2 3 4 5 6 7\n", "line 2: 7 counters for cpu0, expected at least 8"},
		{"cpux 1 2 3 4 5 6 7 8 0 0\n", `line 1: "cpux" is not cpuN`},
		{"cpu0 1 2 3 4 5 6 7 -8 0 0\n", "line 1: steal of cpu0"},
	} {
		_, err := ParseSteal(strings.NewReader(tc.text))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: %v, want %q", tc.text, err, tc.want)
		}
	}
	// A sparse CPU set (cpu1 offline) keeps its index.
	got, err := ParseSteal(strings.NewReader("cpu0 0 0 0 0 0 0 0 100 0 0\ncpu2 0 0 0 0 0 0 0 250 0 0\nintr 5 1 2\n"))
	if err != nil || len(got) != 3 || got[0] != 1 || got[1] != 0 || got[2] != 2.5 {
		t.Errorf("sparse: %v, %v", got, err)
	}
}

// TestRunnerSteal: steal since the run started, per CPU, and the CPU that
// signals completions.
func TestRunnerSteal(t *testing.T) {
	path := filepath.Join(t.TempDir(), "stat")
	os.WriteFile(path, []byte("cpu  0 0 0 0 0 0 0 0 0 0\ncpu0 1 1 1 1 1 1 1 500 0 0\ncpu1 1 1 1 1 1 1 1 700 0 0\n"), 0o644)
	evs := pattern(5)
	for i := range evs {
		if evs[i].Kind == event.KindDone {
			evs[i].CPU = 1
		}
	}
	r := New(&sliceSource{evs: evs}, "test", gaps.Config{})
	r.SampleSteal(path)
	if err := r.Run(t.Context()); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(path, []byte("cpu  0 0 0 0 0 0 0 0 0 0\ncpu0 1 1 1 1 1 1 1 520 0 0\ncpu1 1 1 1 1 1 1 1 850 0 0\n"), 0o644)
	_, st := r.Snapshot()
	if len(st.StealSeconds) != 2 || st.StealSeconds[0] != 0.2 || st.StealSeconds[1] != 1.5 {
		t.Errorf("steal %v, want [0.2 1.5]", st.StealSeconds)
	}
	if st.IRQCPU != 1 {
		t.Errorf("IRQCPU %d, want 1", st.IRQCPU)
	}
	// Without sampling: nothing.
	r = New(&sliceSource{}, "test", gaps.Config{})
	if _, st := r.Snapshot(); st.StealSeconds != nil || st.IRQCPU != -1 {
		t.Errorf("unsampled: steal %v irq cpu %d", st.StealSeconds, st.IRQCPU)
	}
}
