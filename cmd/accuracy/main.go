// Command accuracy is gpuwatch's accuracy benchmark: it runs every
// scenario of accuracy.Grid (accuracy.Quick with --quick) end to end —
// simulate a time-sliced host and a guest, write the guest's `trace-cmd
// report` text in the scenario's format, read it back, analyse it with
// the gaps engine — and scores the estimate against the simulator's
// ground truth.
//
// It prints one row per scenario and a summary per scenario class: its
// target met or missed, and the coverage of the estimator's intervals
// (how often the truth lay within estimate ± 2·error) for share, slice
// and period. --markdown prints the tables for docs/accuracy.md, stamped
// with the machine and the git commit. It is a measurement: it exits 0
// even when targets are missed, non-zero only when it cannot run.
//
//	go run ./cmd/accuracy [--quick] [--markdown | --json] [--filter REGEXP] [-v] [-j N]
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/gpuwatch/gpuwatch/internal/accuracy"
	"github.com/gpuwatch/gpuwatch/internal/machine"
	"github.com/gpuwatch/gpuwatch/internal/simulate"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("accuracy", flag.ContinueOnError)
	fs.SetOutput(stderr)
	markdown := fs.Bool("markdown", false, "print Markdown tables (for docs/accuracy.md), stamped with the machine and commit")
	quick := fs.Bool("quick", false, "run the quick subset (accuracy.Quick) instead of the full grid")
	filter := fs.String("filter", "", "run only scenarios whose name matches `REGEXP`")
	verbose := fs.Bool("v", false, "print the engine's reason for each scenario")
	jsonOut := fs.Bool("json", false, "print the results as JSON (one object per scenario, and the class summaries)")
	jobs := fs.Int("j", runtime.GOMAXPROCS(0), "scenarios run in parallel")
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "accuracy: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	var re *regexp.Regexp
	if *filter != "" {
		var err error
		if re, err = regexp.Compile(*filter); err != nil {
			fmt.Fprintf(stderr, "accuracy: --filter: %v\n", err)
			return 2
		}
	}
	var scs []simulate.Scenario
	all := accuracy.Grid
	if *quick {
		all = accuracy.Quick
	}
	for _, sc := range all() {
		if re == nil || re.MatchString(sc.Name) {
			scs = append(scs, sc)
		}
	}
	if len(scs) == 0 {
		fmt.Fprintln(stderr, "accuracy: no scenario matches")
		return 2
	}
	t0 := time.Now()
	rs, err := evaluateAll(scs, max(*jobs, 1))
	if err != nil {
		fmt.Fprintf(stderr, "accuracy: %v\n", err)
		return 1
	}
	elapsed := time.Since(t0)
	if *jsonOut {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(jsonReport{Results: jsonResults(rs), Classes: accuracy.Summarize(rs), Seconds: elapsed.Seconds()}); err != nil {
			fmt.Fprintf(stderr, "accuracy: %v\n", err)
			return 1
		}
		return 0
	}
	if *markdown {
		printMarkdown(stdout, rs, *verbose, strings.Join(append([]string{"go run ./cmd/accuracy"}, args...), " "))
	} else {
		printText(stdout, rs, *verbose)
	}
	fmt.Fprintf(stdout, "\n%d scenarios in %.1fs\n", len(rs), elapsed.Seconds())
	return 0
}

func evaluateAll(scs []simulate.Scenario, jobs int) ([]accuracy.Result, error) {
	rs := make([]accuracy.Result, len(scs))
	errs := make([]error, len(scs))
	var wg sync.WaitGroup
	next := make(chan int)
	for w := 0; w < jobs; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				rs[i], errs[i] = accuracy.Evaluate(scs[i])
			}
		}()
	}
	for i := range scs {
		next <- i
	}
	close(next)
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return rs, nil
}

func pct(v float64) string {
	if math.IsNaN(v) {
		return "–"
	}
	return fmt.Sprintf("%.2f", v)
}

func yes(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func met(b bool) string {
	if b {
		return "met"
	}
	return "MISSED"
}

var header = []string{"scenario", "format", "det", "conf", "mode", "vfs", "slice err %", "period err %", "share err pp", "held", "P", "R", "F1", "idle FP", "steal FP", "pass>", "target"}

func row(r accuracy.Result) []string {
	vfs := fmt.Sprintf("%d/%d", r.VFs, r.TrueVFs)
	mode := string(r.Mode)
	if !r.ModeOK {
		mode += "✗"
	}
	pass := "–"
	if r.PassExpect > 0 {
		pass = "no"
		if r.PassAbove {
			pass = fmt.Sprintf("PASS@%.1f%%", 100*r.PassExpect)
		}
	}
	return []string{r.Scenario, r.Format, yes(r.Detected), fmt.Sprintf("%.2f", r.Confidence), mode, vfs,
		pct(r.SliceErr), pct(r.PeriodErr), pct(r.ShareErr), fmt.Sprintf("%.1f%%", 100*r.HeldShare),
		fmt.Sprintf("%.3f", r.Precision), fmt.Sprintf("%.3f", r.Recall), fmt.Sprintf("%.3f", r.F1),
		fmt.Sprint(r.FalseInIdle), fmt.Sprint(r.FalseInSteal), pass, met(r.TargetMet())}
}

// classTarget states a class's target (accuracy.Result.TargetMet).
func classTarget(c string) string {
	switch c {
	case "saturating", "frame-paced", "drift", "deadline-jitter", "fairness", "liquid":
		return "jitter ≤ 100 µs: slice & period ≤ 1 %, share ≤ 0.5 pp, F1 ≥ 0.98; above: never confidently wrong; no switched-out in idle"
	case "steal":
		return "as saturating, and no switched-out window on a steal episode"
	case "bursts":
		return "no switched-out in idle, never a confident wrong number"
	case "long":
		return "never a PASS above the true share, never confidently wrong"
	case "outage", "starvation":
		return "never a PASS above the true share; share within 2 pp of the held share"
	case "passthrough":
		return "nothing detected, no switched-out window"
	}
	return ""
}

func cov(c accuracy.Coverage) string {
	if c.N == 0 {
		return "–"
	}
	return fmt.Sprintf("%d/%d", c.Within, c.N)
}

func summaryRows(rs []accuracy.Result) [][]string {
	var out [][]string
	for _, c := range accuracy.Summarize(rs) {
		out = append(out, []string{c.Class, fmt.Sprint(c.N), fmt.Sprintf("%d/%d", c.Met, c.N), met(c.Met == c.N),
			fmt.Sprintf("%d/%d", c.Detected, c.N), fmt.Sprintf("%d/%d", c.NumbersOK, c.N), fmt.Sprintf("%d/%d", c.F1OK, c.N),
			fmt.Sprintf("%.2f", c.MaxSlice), fmt.Sprintf("%.2f", c.MaxPeriod), fmt.Sprintf("%.2f", c.MaxShare),
			fmt.Sprintf("%.3f", c.MinF1), fmt.Sprint(c.FalseIdle), fmt.Sprint(c.FalseStl), fmt.Sprint(c.Confident), fmt.Sprint(c.PassAbove), fmt.Sprint(c.FailBelow),
			cov(c.ShareCov), cov(c.SliceCov), cov(c.PeriodCov), classTarget(c.Class)})
	}
	return out
}

var summaryHeader = []string{"class", "n", "target met", "verdict", "detected", "numbers ok", "F1 ok", "max slice %", "max period %", "max share pp", "min F1", "idle FP", "steal FP", "confident wrong", "pass above", "fail 8 pp below", "share cov", "slice cov", "period cov", "target"}

func confidenceLine(rs []accuracy.Result) string {
	hi, hiN, lo, loN := accuracy.ConfidenceTracking(rs)
	verdict := "confidence tracks error"
	switch {
	case hiN == 0 || loN == 0:
		verdict = "not enough runs on both sides to tell"
	case hi > lo:
		verdict = "confidence does NOT track error"
	}
	// the mean is sensitive to one bad run: also count the runs off target
	var hiOff, loOff int
	for _, r := range rs {
		if !r.Detected || math.IsNaN(r.SliceErr) || r.SliceErr <= accuracy.TargetSliceErr {
			continue
		}
		if r.Confidence >= accuracy.ConfidentAbove {
			hiOff++
		} else {
			loOff++
		}
	}
	return fmt.Sprintf("schedule confidence ≥ %.1f: mean slice error %.3f %% over %d runs (%d off by > %.0f %%); < %.1f: %.3f %% over %d runs (%d off): %s",
		accuracy.ConfidentAbove, hi, hiN, hiOff, accuracy.TargetSliceErr, accuracy.ConfidentAbove, lo, loN, loOff, verdict)
}

func printText(w io.Writer, rs []accuracy.Result, verbose bool) {
	rows := [][]string{header}
	for _, r := range rs {
		rows = append(rows, row(r))
	}
	printAligned(w, rows)
	if verbose {
		fmt.Fprintln(w)
		for _, r := range rs {
			fmt.Fprintf(w, "%s: windows true %d detected %d matched %d/%d, warnings %d: %s\n",
				r.Scenario, r.TrueWindows, r.DetWindows, r.MatchedTrue, r.MatchedDet, r.Warnings, r.Reason)
		}
	}
	fmt.Fprintln(w, "\nsummary per class:")
	printAligned(w, append([][]string{summaryHeader[:len(summaryHeader)-1]}, trimLast(summaryRows(rs))...))
	fmt.Fprintln(w)
	for _, c := range accuracy.Summarize(rs) {
		fmt.Fprintf(w, "  %-12s target: %s\n", c.Class, classTarget(c.Class))
	}
	fmt.Fprintln(w, "\n"+confidenceLine(rs))
}

func trimLast(rows [][]string) [][]string {
	out := make([][]string, len(rows))
	for i, r := range rows {
		out[i] = r[:len(r)-1]
	}
	return out
}

func printAligned(w io.Writer, rows [][]string) {
	width := make([]int, len(rows[0]))
	for _, r := range rows {
		for i, c := range r {
			width[i] = max(width[i], len([]rune(c)))
		}
	}
	for _, r := range rows {
		var b strings.Builder
		for i, c := range r {
			b.WriteString(c)
			if i < len(r)-1 {
				b.WriteString(strings.Repeat(" ", width[i]-len([]rune(c))+2))
			}
		}
		fmt.Fprintln(w, b.String())
	}
}

func printMarkdown(w io.Writer, rs []accuracy.Result, verbose bool, cmd string) {
	fmt.Fprintf(w, "# Accuracy on the simulator's grid\n\n")
	fmt.Fprintf(w, "_Measured by `%s` on %s._\n\n", cmd, machine.Read())
	fmt.Fprintln(w, "Per class: targets met, worst errors, false switch-outs, verdicts passing above the true share, and coverage (runs whose truth lies within estimate ± 2·error, of detected runs).")
	fmt.Fprintln(w)
	mdTable(w, summaryHeader, func(yield func([]string)) {
		for _, r := range summaryRows(rs) {
			yield(r)
		}
	})
	fmt.Fprintln(w, "\n"+confidenceLine(rs))
	fmt.Fprintln(w)
	mdTable(w, header, func(yield func([]string)) {
		for _, r := range rs {
			yield(row(r))
		}
	})
	if verbose {
		fmt.Fprintln(w)
		for _, r := range rs {
			fmt.Fprintf(w, "- `%s`: %s\n", r.Scenario, r.Reason)
		}
	}
}

func mdTable(w io.Writer, head []string, rows func(func([]string))) {
	fmt.Fprintln(w, "| "+strings.Join(head, " | ")+" |")
	sep := make([]string, len(head))
	for i := range sep {
		sep[i] = "---"
	}
	fmt.Fprintln(w, "|"+strings.Join(sep, "|")+"|")
	rows(func(r []string) { fmt.Fprintln(w, "| "+strings.Join(r, " | ")+" |") })
}

type jsonReport struct {
	Results []jsonResult            `json:"results"`
	Classes []accuracy.ClassSummary `json:"classes"`
	Seconds float64                 `json:"seconds"`
}

// jsonResult is a Result with its verdict; NaN errors (nothing
// detected) become null.
type jsonResult struct {
	accuracy.Result
	Share            *float64 `json:"share"`
	ShareSE          *float64 `json:"share_se"`
	SliceErr         *float64 `json:"slice_err_pct"`
	PeriodErr        *float64 `json:"period_err_pct"`
	ShareErr         *float64 `json:"share_err_pp"`
	ScheduleShareErr *float64 `json:"schedule_share_err_pp"`
	TargetMet        bool     `json:"target_met"`
}

func jsonResults(rs []accuracy.Result) []jsonResult {
	num := func(v float64) *float64 {
		if math.IsNaN(v) {
			return nil
		}
		return &v
	}
	out := make([]jsonResult, len(rs))
	for i, r := range rs {
		out[i] = jsonResult{Result: r, Share: num(r.Share), ShareSE: num(r.ShareSE), SliceErr: num(r.SliceErr), PeriodErr: num(r.PeriodErr),
			ShareErr: num(r.ShareErr), ScheduleShareErr: num(r.ScheduleShareErr), TargetMet: r.TargetMet()}
	}
	return out
}
