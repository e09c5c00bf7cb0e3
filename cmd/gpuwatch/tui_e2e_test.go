package main

import (
	"bufio"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gpuwatch/gpuwatch/internal/tracefs"
	"github.com/gpuwatch/gpuwatch/internal/tui/tuitest"
)

// TestTUIEndToEnd builds the real gpuwatch, runs `gpuwatch watch --replay`
// in a detached tmux session (its own tmux server) on a generated 1/2
// schedule, and checks what a person sees: the header, the share against
// --expect, switched-out windows in the strip, help on ?, and a clean exit
// on q with the terminal restored (tty modes unchanged, alternate screen
// left, nothing of the TUI left on the pane, exit status 0).
func TestTUIEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test: builds the binary and runs it in tmux")
	}
	tmux, err := exec.LookPath("tmux")
	if err != nil {
		t.Skip("tmux is not installed (apt-get install tmux)")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "gpuwatch")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	help, _ := exec.Command(bin, "watch", "-h").CombinedOutput()
	for _, flag := range []string{"-replay", "-speed", "-expect"} {
		if !strings.Contains(string(help), flag) {
			t.Skipf("gpuwatch watch has no %s flag yet:\n%s", flag, help)
		}
	}

	// 25 s of a 1/2 S7150: 6 ms slices every 12.4 ms (true share 48.4 %).
	sc := tuitest.Half(25 * time.Second)
	sc.Rings[0].Job, sc.Rings[1].Job = time.Millisecond, 2*time.Millisecond
	trace := filepath.Join(dir, "half.report")
	writeReport(t, trace, sc)

	sock := fmt.Sprintf("gw-%d", os.Getpid())
	session := "gw"
	tm := func(args ...string) (string, error) {
		out, err := exec.Command(tmux, append([]string{"-L", sock, "-f", "/dev/null"}, args...)...).CombinedOutput()
		return string(out), err
	}
	// The wrapper records the tty modes before and after, and the exit status.
	script := fmt.Sprintf(`s0=$(stty -g); %s watch --replay %s --speed 1 --expect 1/2; rc=$?; s1=$(stty -g); `+
		`echo EXIT=$rc; if [ "$s0" = "$s1" ]; then echo TTY=restored; else echo TTY=changed; fi; sleep 30`, bin, trace)
	if out, err := tm("new-session", "-d", "-s", session, "-x", "100", "-y", "30", "sh", "-c", script); err != nil {
		t.Fatalf("tmux new-session: %v\n%s", err, out)
	}
	t.Cleanup(func() { tm("kill-server") })
	capture := func() string {
		out, err := tm("capture-pane", "-p", "-t", session)
		if err != nil {
			t.Fatalf("tmux capture-pane: %v\n%s", err, out)
		}
		return out
	}
	waitFor := func(what string, ok func(string) bool) string {
		t.Helper()
		var scr string
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
			if scr = capture(); ok(scr) {
				return scr
			}
		}
		t.Fatalf("timed out waiting for %s; the pane shows:\n%s", what, scr)
		return ""
	}
	display := func(format string) string {
		out, _ := tm("display-message", "-p", "-t", session, format)
		return strings.TrimSpace(out)
	}

	scr := waitFor("the share", func(s string) bool { return strings.Contains(s, "share ") })
	// let a few seconds of trace accumulate for a settled estimate
	time.Sleep(2 * time.Second)
	scr = capture()
	t.Logf("the TUI at 100×30:\n%s", scr)
	if display("#{alternate_on}") != "1" {
		t.Error("the TUI does not use the alternate screen")
	}
	for _, want := range []string{"gpuwatch · replay", "ev/s", "expected 1/2 (50.0%)", "period 12.4ms", "2 VFs", "fixed", "timeline", "gfx", "sdma0", "glmark2[2412]"} {
		if !strings.Contains(scr, want) {
			t.Errorf("the screen lacks %q", want)
		}
	}
	// The share against the generator's truth, 6/12.4 = 48.39 %.
	if m := regexp.MustCompile(`share (\d+\.\d)% ± `).FindStringSubmatch(scr); m == nil {
		t.Error("no share on the screen")
	} else if v, _ := strconv.ParseFloat(m[1], 64); math.Abs(v-48.39) > 1 {
		t.Errorf("share %.1f%%, truth 48.39%%", v)
	}
	if m := regexp.MustCompile(`slice (\d+\.?\d*)ms ± `).FindStringSubmatch(scr); m == nil {
		t.Error("no slice on the screen")
	} else if v, _ := strconv.ParseFloat(m[1], 64); math.Abs(v-6) > 0.1 {
		t.Errorf("slice %.2f ms, truth 6 ms", v)
	}
	// The strip: rows with active (█) and switched-out (▒) cells, alternating.
	strip := ""
	for _, l := range strings.Split(scr, "\n") {
		if strings.Count(l, "▒") >= 10 && strings.Count(l, "█") >= 10 {
			strip = l
		}
	}
	if strip == "" {
		t.Errorf("no strip row with switched-out windows")
	} else if runs := strings.Count(strip, "█▒"); runs < 4 {
		t.Errorf("strip shows %d active→switched-out edges, want ≥4 (1 ms cells, 12.4 ms period): %s", runs, strip)
	}

	tm("send-keys", "-t", session, "?")
	waitFor("help", func(s string) bool {
		return strings.Contains(s, "q      quit") && strings.Contains(s, "zoom the timeline")
	})
	tm("send-keys", "-t", session, "Escape")
	waitFor("help to close", func(s string) bool { return !strings.Contains(s, "q      quit") })
	tm("send-keys", "-t", session, "+")
	waitFor("zoom in", func(s string) bool { return strings.Contains(s, "500µs/cell") })

	tm("send-keys", "-t", session, "p")
	waitFor("pause", func(s string) bool { return strings.Contains(s, "PAUSED") })
	tm("send-keys", "-t", session, "p")
	waitFor("resume", func(s string) bool { return !strings.Contains(s, "PAUSED") })
	tm("send-keys", "-t", session, "r")
	waitFor("reset", func(s string) bool {
		return strings.Contains(s, "up 0:00 ") || strings.Contains(s, "up 0:01 ")
	})

	tm("send-keys", "-t", session, "q")
	scr = waitFor("the exit", func(s string) bool { return strings.Contains(s, "EXIT=") })
	t.Logf("after q:\n%s", scr)
	if !strings.Contains(scr, "EXIT=0") {
		t.Errorf("gpuwatch exited with a non-zero status")
	}
	if !strings.Contains(scr, "TTY=restored") {
		t.Errorf("the tty modes differ after exit")
	}
	for _, remnant := range []string{"share", "timeline", "│", "┌"} {
		if strings.Contains(scr, remnant) {
			t.Errorf("the pane still shows %q after exit", remnant)
		}
	}
	if display("#{alternate_on}") != "0" {
		t.Error("the alternate screen is still on after exit")
	}
	if display("#{cursor_flag}") != "1" {
		t.Error("the cursor is still hidden after exit")
	}
}

func writeReport(t *testing.T, path string, sc tuitest.Scenario) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	bw := bufio.NewWriter(f)
	w := tracefs.NewTextWriter(bw, tracefs.WriterOptions{Gen: tracefs.GenDRM, CPUs: 2})
	for _, ev := range sc.Events() {
		if err := w.Write(ev); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := bw.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}
