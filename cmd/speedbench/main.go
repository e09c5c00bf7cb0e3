// Command speedbench measures gpuwatch's offline speed against reference
// tools on the same input, in one run, and prints the ratios:
//
//   - `gpuwatch analyze` on a big report text versus `wc -l` on it
//     (target: at least 1/4 of wc's throughput);
//   - `gpuwatch analyze` on a trace.dat versus `trace-cmd report > /dev/null`
//     on the same file (target: 5× faster);
//   - peak RSS of analyze at several input sizes (target: flat, < 64 MiB
//     at 1 GB).
//
// Inputs are made with `gpuwatch simulate` (text) and, for trace.dat, by
// recording real uprobe events through tracefs and `trace-cmd extract`
// (root only; skipped otherwise). Timings are wall-clock and CPU time of
// child processes (wait4 rusage), each the best of -runs runs; the ratios
// are the median over -runs interleaved pairs of runs.
//
//	go run ./cmd/speedbench [-size 1GB] [-dat FILE] [-markdown]
package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/gpuwatch/gpuwatch/internal/machine"
)

type result struct {
	name   string
	wall   time.Duration
	cpu    time.Duration
	maxRSS int64 // bytes
	bytes  int64
}

func (r result) mbps() float64 { return float64(r.bytes) / 1e6 / r.wall.Seconds() }

func main() {
	size := flag.String("size", "1GB", "size of the big report text (e.g. 64MB, 1GB)")
	dat := flag.String("dat", "", "trace.dat to compare with `trace-cmd report` (default: none; see -record)")
	runs := flag.Int("runs", 2, "runs per measurement (best is kept)")
	dir := flag.String("dir", "", "work directory (default: a temporary one, removed at exit)")
	markdown := flag.Bool("markdown", false, "print the table as markdown")
	flag.Parse()

	n, err := parseSize(*size)
	if err != nil {
		fatal(err)
	}
	work := *dir
	if work == "" {
		work, err = os.MkdirTemp("", "speedbench")
		if err != nil {
			fatal(err)
		}
		defer os.RemoveAll(work)
	}
	bin := filepath.Join(work, "gpuwatch")
	if out, err := exec.Command("go", "build", "-o", bin, "./cmd/gpuwatch").CombinedOutput(); err != nil {
		fatal(fmt.Errorf("building gpuwatch: %v\n%s", err, out))
	}

	var rows [][]string
	add := func(cells ...string) { rows = append(rows, cells) }

	// Text: analyze vs wc -l, and RSS over sizes.
	sizes := []int64{n / 16, n / 4, n}
	for i, s := range sizes {
		path := filepath.Join(work, fmt.Sprintf("sim-%d.report", s))
		if err := simulate(bin, path, s); err != nil {
			fatal(err)
		}
		if i < len(sizes)-1 {
			a := best(*runs, bin, "analyze", "--json", path)
			add(fmt.Sprintf("analyze report %s", human(a.bytes)), dur(a.wall), fmt.Sprintf("%.0f MB/s", a.mbps()), dur(a.cpu), human(a.maxRSS), "")
			continue
		}
		// The biggest against wc -l, in interleaved pairs: the ratio of
		// each pair is immune to the machine's speed drifting between
		// runs (it does, on a shared VM, by ±30%).
		an, wc, lo, med, hi := pairs(*runs, []string{bin, "analyze", "--json", path}, []string{"wc", "-l", path}, func(a, w result) float64 { return a.mbps() / w.mbps() })
		add(fmt.Sprintf("analyze report %s", human(an.bytes)), dur(an.wall), fmt.Sprintf("%.0f MB/s", an.mbps()), dur(an.cpu), human(an.maxRSS), "")
		add(fmt.Sprintf("wc -l %s", human(wc.bytes)), dur(wc.wall), fmt.Sprintf("%.0f MB/s", wc.mbps()), dur(wc.cpu), human(wc.maxRSS), "")
		add("analyze / wc -l throughput", "", fmt.Sprintf("%.2f", med), "", "", fmt.Sprintf("median of %d pairs (%.2f–%.2f); target ≥ 0.25", *runs, lo, hi))
	}

	if *dat != "" {
		tr, ad, lo, med, hi := pairs(*runs, []string{"trace-cmd", "report", *dat}, []string{bin, "analyze", "--json", *dat}, func(t, a result) float64 { return t.wall.Seconds() / a.wall.Seconds() })
		add(fmt.Sprintf("trace-cmd report %s", human(tr.bytes)), dur(tr.wall), fmt.Sprintf("%.0f MB/s", tr.mbps()), dur(tr.cpu), human(tr.maxRSS), "")
		add(fmt.Sprintf("analyze trace.dat %s", human(ad.bytes)), dur(ad.wall), fmt.Sprintf("%.0f MB/s", ad.mbps()), dur(ad.cpu), human(ad.maxRSS), "")
		add("trace-cmd report / analyze time", "", fmt.Sprintf("%.1f×", med), "", "", fmt.Sprintf("median of %d pairs (%.1f–%.1f×); target ≥ 5×", *runs, lo, hi))
	}
	print(rows, *markdown)
}

func simulate(bin, path string, size int64) error {
	if fi, err := os.Stat(path); err == nil && fi.Size() >= size*9/10 {
		return nil
	}
	cmd := exec.Command(bin, "simulate", "--vfs", "2", "--slice", "6ms", "--policy", "strict",
		"--workload", "saturate", "--rings", "gfx,sdma0", "--size", strconv.FormatInt(size, 10), "-o", path)
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("gpuwatch simulate: %w", err)
	}
	return nil
}

// best runs the command runs times and keeps the fastest (stdout discarded).
// pairs runs the commands a and b one after the other, runs times, and
// returns the best run of each and the min, median and max of ratio over
// the pairs.
func pairs(runs int, a, b []string, ratio func(a, b result) float64) (ba, bb result, lo, med, hi float64) {
	var rs []float64
	for i := 0; i < runs; i++ {
		ra := measure(a[0], a[1:]...)
		rb := measure(b[0], b[1:]...)
		if i == 0 || ra.wall < ba.wall {
			ba = ra
		}
		if i == 0 || rb.wall < bb.wall {
			bb = rb
		}
		rs = append(rs, ratio(ra, rb))
	}
	sort.Float64s(rs)
	return ba, bb, rs[0], rs[len(rs)/2], rs[len(rs)-1]
}

func best(runs int, name string, args ...string) result {
	var b result
	for i := 0; i < runs; i++ {
		r := measure(name, args...)
		if i == 0 || r.wall < b.wall {
			b = r
		}
	}
	return b
}

func measure(name string, args ...string) result {
	cmd := exec.Command(name, args...)
	cmd.Stdout = io.Discard
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	start := time.Now()
	err := cmd.Run()
	wall := time.Since(start)
	if err != nil {
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
			fatal(fmt.Errorf("%s %s: %v\n%s", name, strings.Join(args, " "), err, stderr.String()))
		}
	}
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	var size int64
	if fi, err := os.Stat(args[len(args)-1]); err == nil {
		size = fi.Size()
	}
	return result{name: name, wall: wall, cpu: cpu, maxRSS: ru.Maxrss * 1024, bytes: size}
}

func print(rows [][]string, markdown bool) {
	head := []string{"measurement", "wall", "throughput / ratio", "cpu", "peak RSS", "note"}
	if markdown {
		fmt.Printf("## Offline: analyze against wc -l and trace-cmd report\n\nWall and CPU time and peak memory of `gpuwatch analyze --json` on simulated report text of growing size, its throughput against `wc -l` on the same file (interleaved pairs, so that the machine's drifting speed cancels), and its time against `trace-cmd report` on a trace.dat.\n\n")
		fmt.Printf("_Measured by `go run ./cmd/speedbench %s` on %s._\n\n", strings.Join(os.Args[1:], " "), machine.Read())
		fmt.Println("| " + strings.Join(head, " | ") + " |")
		fmt.Println("|" + strings.Repeat("---|", len(head)))
		for _, r := range rows {
			fmt.Println("| " + strings.Join(r, " | ") + " |")
		}
		return
	}
	fmt.Printf("%-36s %10s %18s %10s %10s  %s\n", head[0], head[1], head[2], head[3], head[4], head[5])
	for _, r := range rows {
		fmt.Printf("%-36s %10s %18s %10s %10s  %s\n", r[0], r[1], r[2], r[3], r[4], r[5])
	}
}

func dur(d time.Duration) string { return d.Round(time.Millisecond).String() }

func human(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

func parseSize(s string) (int64, error) {
	mult := int64(1)
	u := strings.ToUpper(strings.TrimSpace(s))
	for _, x := range []struct {
		suf string
		m   int64
	}{{"GB", 1 << 30}, {"G", 1 << 30}, {"MB", 1 << 20}, {"M", 1 << 20}, {"KB", 1 << 10}, {"K", 1 << 10}} {
		if strings.HasSuffix(u, x.suf) {
			mult, u = x.m, strings.TrimSuffix(u, x.suf)
			break
		}
	}
	v, err := strconv.ParseFloat(u, 64)
	if err != nil || v <= 0 {
		return 0, fmt.Errorf("bad size %q: expected a number with an optional KB, MB or GB suffix", s)
	}
	return int64(v * float64(mult)), nil
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "speedbench:", err)
	os.Exit(2)
}
