package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/gpuwatch/gpuwatch/internal/accuracy"
)

func runAcc(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := run(args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestAccuracyText(t *testing.T) {
	code, out, stderr := runAcc("--filter", "^(saturating-strict-4vf-6ms-saturate-const-4.15us|passthrough-saturate-exp-4.15ns)$", "-v")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{
		"saturating-strict-4vf-6ms-saturate-const-4.15us", "passthrough-saturate-exp-4.15ns",
		"summary per class:", "saturating ", "passthrough ", "confidence ≥ 0.8", "2 scenarios in",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	// the strict 4×6 ms saturating run meets its targets today
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "saturating-strict-4vf-6ms-saturate-const-4.15us  ") && !strings.HasSuffix(strings.TrimSpace(l), "met") {
			t.Errorf("row not met: %s", l)
		}
	}
}

func TestAccuracyMarkdown(t *testing.T) {
	code, out, stderr := runAcc("--markdown", "--filter", "^long-strict-2vf")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	lines := strings.Split(out, "\n")
	if lines[0] != "# Accuracy on the simulator's grid" {
		t.Errorf("no title: %q", lines[0])
	}
	lines = lines[2:]
	if !strings.HasPrefix(lines[0], "_Measured by `go run ./cmd/accuracy --markdown --filter ^long-strict-2vf` on Linux ") ||
		!strings.Contains(lines[0], " CPUs (") || !strings.Contains(lines[0], ", commit ") {
		t.Errorf("no stamp: %q", lines[0])
	}
	if !strings.Contains(out, "\n| class | n | target met |") || !strings.Contains(out, "\n| long | 1 |") ||
		!strings.Contains(out, "| share cov | slice cov | period cov |") {
		t.Errorf("no markdown summary:\n%s", out)
	}
	if !strings.Contains(out, "\n| scenario | format |") || !strings.Contains(out, "\n|---|") || !strings.Contains(out, "\n| long-strict-2vf-6ms") {
		t.Errorf("no markdown table of scenarios:\n%s", out)
	}
}

// TestAccuracyQuick: --quick runs accuracy.Quick, every class summarised
// with its coverage of the truth (k/n of detected runs) and its target.
func TestAccuracyQuick(t *testing.T) {
	code, out, stderr := runAcc("--quick", "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var rep struct {
		Results []json.RawMessage `json:"results"`
		Classes []struct {
			Class    string `json:"class"`
			N        int    `json:"n"`
			ShareCov struct {
				N, Within int
			} `json:"share_coverage"`
		} `json:"classes"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Results) != len(accuracy.Quick()) || len(rep.Classes) != len(accuracy.Classes()) {
		t.Fatalf("%d results, %d classes; want %d, %d", len(rep.Results), len(rep.Classes), len(accuracy.Quick()), len(accuracy.Classes()))
	}
	for _, c := range rep.Classes {
		if c.N == 0 || c.ShareCov.Within > c.ShareCov.N || c.ShareCov.N > c.N {
			t.Errorf("class %+v", c)
		}
	}
	code, out, _ = runAcc("--quick", "--filter", "^(outage|steal)-strict-2vf")
	if code != 0 || !strings.Contains(out, "share cov") || !strings.Contains(out, "outage  ") || !strings.Contains(out, "steal  ") ||
		!strings.Contains(out, "no switched-out window on a steal episode") {
		t.Errorf("text summary:\n%s", out)
	}
}

func TestAccuracyBadFlags(t *testing.T) {
	for _, args := range [][]string{{"--filter", "("}, {"--filter", "no-such-scenario"}, {"stray"}, {"--nope"}} {
		if code, _, _ := runAcc(args...); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
}

func TestAccuracyJSON(t *testing.T) {
	code, out, stderr := runAcc("--json", "--filter", "^passthrough-frames")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var rep struct {
		Results []struct {
			Scenario  string   `json:"scenario"`
			SliceErr  *float64 `json:"slice_err_pct"`
			TargetMet bool     `json:"target_met"`
		} `json:"results"`
		Classes []struct {
			Class string `json:"class"`
			N     int    `json:"n"`
		} `json:"classes"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v:\n%s", err, out)
	}
	if len(rep.Results) != 1 || rep.Results[0].Scenario != "passthrough-frames-exp-4.16us" || rep.Results[0].SliceErr != nil ||
		len(rep.Classes) != 1 || rep.Classes[0].Class != "passthrough" || rep.Classes[0].N != 1 {
		t.Errorf("unexpected report: %+v", rep)
	}
}
