package main

import (
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gpuwatch/gpuwatch/internal/tracefs/livetest"
	"github.com/gpuwatch/gpuwatch/internal/tracepoint"
)

// TestRunTerminal runs the real binary in tmux, as a user does: Ctrl-C
// reaches the command (in the terminal's foreground), the summary is
// printed, and the terminal is the shell's again afterwards; with --tui
// the live view shows while the command runs, then the summary.
func TestRunTerminal(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test: builds the binary and runs it in tmux")
	}
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Skip("tmux is not installed (apt-get install tmux)")
	}
	h := livetest.Setup(t, tracepoint.GenDRM)
	before := livetest.Snapshot(h.Root)
	bin := buildGpuwatch(t)
	gw := bin + " run --source tracefs --tracefs " + h.Root
	prog := func(ms string) string {
		return h.Bin + " pattern drm " + ms + " " + strings.Join(runPattern, " ")
	}

	t.Run("ctrl-c", func(t *testing.T) {
		p := newPane(t, 120, 40)
		// After gpuwatch, the shell reads a line from the terminal: that
		// works only if the terminal's foreground is the shell's again.
		p.start("sh", "-c", gw+" --expect 1/2 -- "+prog("60000")+"; echo exit=$?; read x; echo got=$x; sleep 60")
		shell, _ := strconv.Atoi(p.display("#{pane_pid}"))
		pids := waitForChildren(t, shell, "gpusim", 2, 30*time.Second)
		time.Sleep(2 * time.Second)
		p.keys("C-c")
		scr := p.waitFor("the summary and exit=130", func(s string) bool { return strings.Contains(s, "exit=130") })
		t.Logf("pane:\n%s", scr)
		for _, want := range []string{"killed by SIGINT", "verdict"} {
			if !strings.Contains(scr, want) {
				t.Errorf("pane lacks %q", want)
			}
		}
		// The summary's last sentence blames the host when the 2 s
		// before Ctrl-C held a schedule; on a loaded machine they may
		// not, and it says so instead. (The pane wraps long lines.)
		joined := strings.ReplaceAll(scr, "\n", "")
		if !strings.Contains(joined, "for the host to switch this VM back in") && !strings.Contains(joined, "no switch-out schedule was found to blame the host") {
			t.Errorf("pane lacks the summary's sentence on waiting for the host")
		}
		p.keys("hello", "Enter")
		p.waitFor("the shell reading the terminal", func(s string) bool { return strings.Contains(s, "got=hello") })
		for _, pid := range pids {
			if alive(pid) {
				t.Errorf("gpusim %d still runs after Ctrl-C", pid)
			}
		}
	})

	t.Run("tui", func(t *testing.T) {
		p := newPane(t, 160, 40)
		// No --expect: the exit status is the command's, whatever the
		// verdict on a loaded machine.
		p.start("sh", "-c", gw+" --tui -- "+prog("4000")+"; echo exit=$?; sleep 60")
		note := regexp.MustCompile(`gpusim \(pid \d+\) · output → \S*gpuwatch-run-\S+\.log`)
		scr := p.waitFor("the live view naming the output file", func(s string) bool { return note.MatchString(s) })
		t.Logf("live view:\n%s", scr)
		scr = p.waitFor("the summary and exit=0", func(s string) bool { return strings.Contains(s, "exit=0") })
		t.Logf("pane:\n%s", scr)
		m := regexp.MustCompile(`the output of gpusim is in (\S+)`).FindStringSubmatch(scr)
		if m == nil {
			t.Fatal("the summary does not name the output file")
		}
		out, err := exec.Command("cat", m[1]).Output()
		if err != nil || !strings.Contains(string(out), "jobs ") {
			t.Errorf("output file %s: %q, %v; want gpusim's output", m[1], out, err)
		}
		exec.Command("rm", "-f", m[1]).Run()
	})
	if after := livetest.Snapshot(h.Root); after != before {
		t.Errorf("tracefs changed:\nbefore %+v\nafter  %+v", before, after)
	}
}
