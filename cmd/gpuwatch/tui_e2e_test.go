package main

import (
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

	"github.com/gpuwatch/gpuwatch/internal/simulate"
	"github.com/gpuwatch/gpuwatch/internal/tracefs/livetest"
	"github.com/gpuwatch/gpuwatch/internal/tui/tuitest"
)

// TestTUIEndToEnd builds the real gpuwatch, runs `gpuwatch watch --replay`
// in a detached tmux session (its own tmux server) on a generated 1/2
// schedule, and checks what a person sees: the header, the share against
// --expect, switched-out windows in the strip, help on ?, and a clean exit
// on q with the terminal restored (tty modes unchanged, alternate screen
// left, nothing of the TUI left on the pane, exit status 0).
func TestTUIEndToEnd(t *testing.T) {
	bin, trace := e2eSetup(t)
	p := newPane(t, 100, 30)
	// The wrapper records the tty modes before and after, and the exit status.
	p.start("sh", "-c", fmt.Sprintf(`s0=$(stty -g); %s watch --replay %s --speed 1 --expect 45%%; rc=$?; s1=$(stty -g); `+
		`echo EXIT=$rc; if [ "$s0" = "$s1" ]; then echo TTY=restored; else echo TTY=changed; fi; sleep 30`, bin, trace))

	scr := p.waitFor("the share", func(s string) bool { return strings.Contains(s, "share ") })
	// let a few seconds of trace accumulate for a settled estimate
	time.Sleep(2 * time.Second)
	scr = p.capture()
	t.Logf("the TUI at 100×30:\n%s", scr)
	if p.display("#{alternate_on}") != "1" {
		t.Error("the TUI does not use the alternate screen")
	}
	for _, want := range []string{"gpuwatch · replay", "ev/s", "expected 45%: PASS", "period 12.4ms", "2 VFs", "fixed", "timeline", "gfx", "sdma0", "glmark2[2412]"} {
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

	p.keys("?")
	p.waitFor("help", func(s string) bool {
		return strings.Contains(s, "q      quit") && strings.Contains(s, "zoom the timeline")
	})
	p.keys("Escape")
	p.waitFor("help to close", func(s string) bool { return !strings.Contains(s, "q      quit") })
	p.keys("+")
	p.waitFor("zoom in", func(s string) bool { return strings.Contains(s, "500µs/cell") })
	p.keys("p")
	p.waitFor("pause", func(s string) bool { return strings.Contains(s, "PAUSED") })
	p.keys("p")
	p.waitFor("resume", func(s string) bool { return !strings.Contains(s, "PAUSED") })
	p.keys("r")
	p.waitFor("reset", func(s string) bool {
		return strings.Contains(s, "up 0:00 ") || strings.Contains(s, "up 0:01 ")
	})
	// The exit status is the verdict of what is on screen at exit (as
	// with --json): let the share come back after the reset before
	// quitting, so EXIT=0 means the --expect 45% verdict passed.
	p.waitFor("the share after the reset", func(s string) bool {
		return strings.Contains(s, "share 4") && !strings.Contains(s, "up 0:00 ")
	})

	p.keys("q")
	scr = p.waitFor("the exit", func(s string) bool { return strings.Contains(s, "EXIT=") })
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
	if p.display("#{alternate_on}") != "0" {
		t.Error("the alternate screen is still on after exit")
	}
	if p.display("#{cursor_flag}") != "1" {
		t.Error("the cursor is still hidden after exit")
	}
}

// TestTUISuspendResume: Ctrl-Z in the TUI gives the terminal back to an
// interactive shell (job stopped), fg brings the TUI back, q then exits
// with status 0 and nothing of the TUI left.
func TestTUISuspendResume(t *testing.T) {
	bin, trace := e2eSetup(t)
	bash, err := exec.LookPath("bash")
	if err != nil {
		livetest.Skip(t, "bash is not installed: no interactive shell to suspend to")
	}
	p := newPane(t, 100, 30)
	p.start(bash, "--norc", "--noprofile", "-i")
	p.keys("PS1='ready$ '", "Enter")
	p.waitFor("the prompt", func(s string) bool { return strings.Contains(s, "ready$") })
	p.keys(fmt.Sprintf("%s watch --replay %s --speed 1", bin, trace), "Enter")
	p.waitFor("the TUI", func(s string) bool { return strings.Contains(s, "share ") })
	p.keys("C-z")
	scr := p.waitFor("the job to stop", func(s string) bool { return strings.Contains(s, "Stopped") })
	if alt := p.display("#{alternate_on}"); strings.Contains(scr, "timeline") || alt != "0" {
		t.Errorf("the TUI is still on the terminal while stopped (alternate screen %q):\n%s", alt, scr)
	}
	p.keys("fg", "Enter")
	p.waitFor("the TUI to come back", func(s string) bool { return strings.Contains(s, "timeline") && strings.Contains(s, "share ") })
	p.keys("q")
	p.waitFor("the prompt after q", func(s string) bool { return !strings.Contains(s, "timeline") })
	p.keys("echo EXIT=$?", "Enter")
	// the typed command holds "EXIT=" too: wait for the line it prints
	status := regexp.MustCompile(`(?m)^EXIT=\d+`)
	scr = p.waitFor("the exit status", status.MatchString)
	if status.FindString(scr) != "EXIT=0" {
		t.Errorf("exit status after suspend, resume, q:\n%s", scr)
	}
	for _, remnant := range []string{"share", "│", "┌"} {
		if strings.Contains(scr, remnant) {
			t.Errorf("the pane still shows %q after exit:\n%s", remnant, scr)
		}
	}
}

// e2eSetup builds gpuwatch and writes a trace: 25 s of a 1/2 S7150, 6 ms
// slices every 12.4 ms (true share 48.39 %). It skips without tmux or
// without watch's replay flags.
func e2eSetup(t *testing.T) (bin, trace string) {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end test: builds the binary and runs it in tmux")
	}
	if _, err := exec.LookPath("tmux"); err != nil {
		livetest.Skip(t, "tmux is not installed (apt-get install tmux)")
	}
	dir := t.TempDir()
	bin = filepath.Join(dir, "gpuwatch")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	help, _ := exec.Command(bin, "watch", "-h").CombinedOutput()
	for _, flag := range []string{"-replay", "-speed", "-expect"} {
		if !strings.Contains(string(help), flag) {
			t.Fatalf("gpuwatch watch has no %s flag:\n%s", flag, help)
		}
	}
	sc := tuitest.Half(25 * time.Second)
	sc.Rings[0].Job.Mean, sc.Rings[1].Job.Mean = time.Millisecond, 2*time.Millisecond
	trace = filepath.Join(dir, "half.report")
	writeReport(t, trace, sc)
	return bin, trace
}

// pane is one tmux window on a private tmux server (its own socket).
type pane struct {
	t            *testing.T
	sock, target string
	w, h         int
}

func newPane(t *testing.T, w, h int) *pane {
	// A private server on a socket in the test's temporary directory.
	p := &pane{t: t, sock: filepath.Join(t.TempDir(), "tmux.sock"), target: "gw", w: w, h: h}
	t.Cleanup(func() { p.tmux("kill-server") })
	return p
}

func (p *pane) tmux(args ...string) (string, error) {
	out, err := exec.Command("tmux", append([]string{"-S", p.sock, "-f", "/dev/null"}, args...)...).CombinedOutput()
	return string(out), err
}

func (p *pane) start(cmd ...string) {
	p.t.Helper()
	args := append([]string{"new-session", "-d", "-s", p.target, "-x", fmt.Sprint(p.w), "-y", fmt.Sprint(p.h)}, cmd...)
	if out, err := p.tmux(args...); err != nil {
		p.t.Fatalf("tmux new-session: %v\n%s", err, out)
	}
}

func (p *pane) keys(keys ...string) {
	p.t.Helper()
	if out, err := p.tmux(append([]string{"send-keys", "-t", p.target}, keys...)...); err != nil {
		p.t.Fatalf("tmux send-keys: %v\n%s", err, out)
	}
}

func (p *pane) capture() string {
	p.t.Helper()
	out, err := p.tmux("capture-pane", "-p", "-t", p.target)
	if err != nil {
		p.t.Fatalf("tmux capture-pane: %v\n%s", err, out)
	}
	return out
}

func (p *pane) display(format string) string {
	out, _ := p.tmux("display-message", "-p", "-t", p.target, format)
	return strings.TrimSpace(out)
}

// waitFor polls the pane until ok (30 s at most).
func (p *pane) waitFor(what string, ok func(string) bool) string {
	p.t.Helper()
	var scr string
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if scr = p.capture(); ok(scr) {
			return scr
		}
	}
	p.t.Fatalf("timed out waiting for %s; the pane shows:\n%s", what, scr)
	return ""
}

func writeReport(t *testing.T, path string, sc simulate.Scenario) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := simulate.WriteReport(f, sc, "", nil); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}
