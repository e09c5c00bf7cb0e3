package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/tools/txtar"
)

var updateVerdicts = flag.Bool("update-verdicts", false, "rewrite testdata/verdicts.txtar")

// verdictCase is one scenario a tenant's verdict must hold on: a simulated
// trace (its truth from `gpuwatch simulate --truth`: the held share) and the
// expectations tried against it.
type verdictCase struct {
	name string
	sim  []string // gpuwatch simulate flags
	// long: the length of the outage the case holds, seconds (0: none)
	long float64
	// expects are tried with analyze --expect; the outcome must be the
	// one listed.
	expects []verdictExpect
	// shareTol: the measured share must be within this of the truth
	// (0: the share need not be resolved).
	shareTol float64
}

type verdictExpect struct {
	expect  string
	outcome string
}

// TestVerdicts holds the tenant's verdict to the truth on the cases a
// sceptic tries: never a PASS above the true share, an UNDETERMINED where
// the trace cannot tell, the outage named. The verdict lines go to
// testdata/verdicts.txtar (-update-verdicts rewrites it).
func TestVerdicts(t *testing.T) {
	if testing.Short() {
		t.Skip("simulates seconds of trace")
	}
	cases := []verdictCase{
		{name: "long-8vf", sim: []string{"--vfs", "8", "--slice", "1ms", "--workload", "long", "--duration", "3s"},
			expects: []verdictExpect{{"1", "undetermined"}, {"1/8", "undetermined"}}},
		{name: "long-2vf-4.15", sim: []string{"--vfs", "2", "--slice", "6ms", "--workload", "long", "--job-dist", "uniform", "--format", "4.15", "--duration", "1s"},
			expects: []verdictExpect{{"1", "undetermined"}, {"1/2", "undetermined"}}},
		{name: "fair-half", sim: []string{"--vfs", "2", "--slice", "6ms", "--duration", "3s"}, shareTol: 0.01,
			expects: []verdictExpect{{"1/2", "pass"}, {"0.40", "pass"}, {"0.9", "fail"}, {"0.55", "fail"}}},
		{name: "outage-1.5s", sim: []string{"--vfs", "2", "--slice", "6ms", "--duration", "6s", "--outage", "2s+1.5s"}, long: 1.5, shareTol: 0.02,
			expects: []verdictExpect{{"0.45", "fail"}, {"1/2", "fail"}, {"0.30", "pass"}}},
		{name: "starved-5s", sim: []string{"--vfs", "2", "--slice", "6ms", "--duration", "8s", "--starve", "1.5s+5s"}, long: 5, shareTol: 0.02,
			expects: []verdictExpect{{"1/2", "fail"}}},
		{name: "starved-30s", sim: []string{"--vfs", "2", "--slice", "6ms", "--duration", "33s", "--starve", "1.5s+30s"}, long: 30, shareTol: 0.02,
			expects: []verdictExpect{{"1/2", "fail"}}},
	}
	golden := filepath.Join("testdata", "verdicts.txtar")
	got := &txtar.Archive{Comment: []byte("The verdict lines of gpuwatch analyze --expect on each case of TestVerdicts.\n")}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rep, tr := simulateWithTruth(t, c.sim...)
			truth := tr.HeldShare
			for _, e := range c.expects {
				code, stdout, stderr := runCLI(t, nil, "analyze", "--json", "--expect", e.expect, rep)
				var doc struct {
					Share struct {
						Ratio, Err float64
						Resolved   bool
					}
					LongWindows []struct {
						DurationSeconds float64 `json:"duration_seconds"`
					} `json:"long_windows"`
					Verdict struct {
						Outcome string
						Note    string
					}
				}
				if err := json.Unmarshal([]byte(stdout), &doc); err != nil {
					t.Fatalf("--expect %s: %v\n%s", e.expect, err, stderr)
				}
				if doc.Verdict.Outcome != e.outcome {
					t.Errorf("--expect %s: %s (%s), want %s; measured %.4f ± %.4f, true %.4f",
						e.expect, doc.Verdict.Outcome, doc.Verdict.Note, e.outcome, doc.Share.Ratio, doc.Share.Err, truth)
				}
				if want := map[string]int{"pass": 0}[e.outcome]; e.outcome != "pass" {
					want = 1
					if code != want {
						t.Errorf("--expect %s: exit %d, want %d", e.expect, code, want)
					}
				} else if code != want {
					t.Errorf("--expect %s: exit %d, want %d", e.expect, code, want)
				}
				if c.shareTol > 0 {
					if !doc.Share.Resolved || absf(doc.Share.Ratio-truth) > c.shareTol {
						t.Errorf("measured share %.4f ± %.4f (resolved %v), true %.4f", doc.Share.Ratio, doc.Share.Err, doc.Share.Resolved, truth)
					}
				}
				if c.long > 0 {
					if len(doc.LongWindows) == 0 || doc.LongWindows[0].DurationSeconds < c.long {
						t.Errorf("the %.1f s without progress is not a long window: %+v", c.long, doc.LongWindows)
					}
				}
			}
			// The text verdict for people.
			code, stdout, _ := runCLI(t, nil, "analyze", "--expect", c.expects[0].expect, rep)
			i := strings.Index(stdout, "\nVerdict:")
			if i < 0 {
				t.Fatalf("no verdict:\n%s", stdout)
			}
			for _, l := range strings.Split(strings.TrimSpace(stdout[i:]), "\n") {
				if n := len([]rune(l)); n > 80 {
					t.Errorf("verdict line of %d columns: %q", n, l)
				}
			}
			got.Files = append(got.Files, txtar.File{
				Name: fmt.Sprintf("%s --expect %s (exit %d, true share %.1f%%)", c.name, c.expects[0].expect, code, 100*truth),
				Data: []byte(stdout[i+1:]),
			})
		})
	}
	if t.Failed() {
		return
	}
	if *updateVerdicts {
		if err := os.WriteFile(golden, txtar.Format(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := txtar.ParseFile(golden)
	if err != nil {
		t.Fatalf("%v (go test -run TestVerdicts -update-verdicts)", err)
	}
	if !bytes.Equal(txtar.Format(want), txtar.Format(got)) {
		t.Errorf("verdicts differ from %s (-update-verdicts after checking):\n%s", golden, txtar.Format(got))
	}
}

func absf(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}
