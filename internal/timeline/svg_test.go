package timeline

import (
	"bytes"
	"encoding/xml"
	"flag"
	"image"
	"image/png"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gpuwatch/gpuwatch/internal/event"
	"github.com/gpuwatch/gpuwatch/internal/gaps"
	"github.com/gpuwatch/gpuwatch/internal/tracefs/livetest"
)

var keep = flag.String("keep", "", "write the test pictures (svg, png) into this directory")

// scenario: a 2-VF host, 6 ms on and 6.4 ms off, gfx saturated with 250 µs
// jobs (two in flight) and sdma0 busy one job in four; from 150 ms to
// 200 ms the guest has no work at all (guest idle, not a switch-out).
func scenario(d time.Duration) ([]event.Event, int64) {
	var evs []event.Event
	var fence uint64 = 0x10000
	t := int64(2e9)
	end := t + int64(d)
	idleFrom, idleTo := t+150e6, t+200e6
	var pending []uint64
	add := func(ring string, at int64) {
		fence += 0x40
		evs = append(evs, event.Event{Time: at, Kind: event.KindRun, Name: "gpu_scheduler:drm_run_job", Ring: ring, Job: event.JobKey{Fence: fence}, JobCount: -1, HWJobCount: -1})
		pending = append(pending, fence)
	}
	done := func(at int64) {
		for _, f := range pending {
			evs = append(evs, event.Event{Time: at, Kind: event.KindDone, Name: "gpu_scheduler:drm_sched_process_job", Job: event.JobKey{Fence: f}, JobCount: -1, HWJobCount: -1})
		}
		pending = pending[:0]
	}
	var switchedOut int64
	for t < end {
		on := t + 6e6
		for ; t+250e3 <= on; t += 250e3 {
			done(t)
			if t >= idleFrom && t < idleTo {
				continue
			}
			add("gfx", t+1)
			if (t/250e3)%4 == 0 {
				add("sdma0", t+2)
			}
		}
		t = on
		if t < idleFrom || t >= idleTo {
			switchedOut += 6.4e6
		}
		t += 6.4e6
	}
	done(t)
	return evs, switchedOut
}

func render(t *testing.T, d time.Duration) (svg []byte, s *gaps.Snapshot, want int64) {
	t.Helper()
	evs, want := scenario(d)
	e := gaps.New(gaps.Config{})
	r := NewRecorder()
	for _, ev := range evs {
		e.Feed(ev)
		r.Feed(ev)
	}
	s = e.Snapshot()
	var buf bytes.Buffer
	if err := r.WriteSVG(&buf, s); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), s, want
}

func TestSVGWellFormed(t *testing.T) {
	svg, s, _ := render(t, 400*time.Millisecond)
	dec := xml.NewDecoder(bytes.NewReader(svg))
	rects, texts := 0, []string{}
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("not well-formed XML: %v", err)
		}
		if se, ok := tok.(xml.StartElement); ok && se.Name.Local == "rect" {
			rects++
		}
		if cd, ok := tok.(xml.CharData); ok && strings.TrimSpace(string(cd)) != "" {
			texts = append(texts, string(cd))
		}
	}
	all := strings.Join(texts, "|")
	for _, want := range []string{"VF", "gfx", "sdma0", "share", "guest idle", "trace clock"} {
		if !strings.Contains(all, want) {
			t.Errorf("picture lacks %q: %s", want, all)
		}
	}
	if !s.Timeslice.Detected {
		t.Fatalf("engine detected nothing: %s", s.Timeslice.Reason)
	}
	if rects > 3000 {
		t.Errorf("%d rectangles for 400 ms: runs are not merged", rects)
	}
}

// TestLongTraceStaysSmall: minutes of trace are aggregated to the
// picture's resolution, not drawn window by window.
func TestLongTraceStaysSmall(t *testing.T) {
	svg, _, _ := render(t, 60*time.Second)
	if len(svg) > 400<<10 {
		t.Errorf("60 s trace gives a %d KiB picture", len(svg)>>10)
	}
}

// TestChromiumScreenshot renders the picture the way a person sees it, in
// headless Chromium, and reads the pixels back: the VF lane must be red for
// the switched-out share of the time, grey where the guest was idle.
func TestChromiumScreenshot(t *testing.T) {
	svg, s, want := render(t, 400*time.Millisecond)
	img := screenshot(t, svg, "timeline")
	y := top + laneH/2
	red, grey, green := 0, 0, 0
	for x := left; x < left+plotW; x++ {
		switch classify(img, x, y) {
		case "red":
			red++
		case "grey":
			grey++
		case "green":
			green++
		}
	}
	span := float64(s.End - s.Start)
	wantRed := float64(want) / span
	gotRed := float64(red) / plotW
	t.Logf("VF lane: red %d grey %d green %d of %d px; switched out %.1f%% of the time", red, grey, green, plotW, 100*wantRed)
	if d := gotRed - wantRed; d > 0.05 || d < -0.05 {
		t.Errorf("red covers %.1f%% of the VF lane, the VF was switched out %.1f%% of the time", 100*gotRed, 100*wantRed)
	}
	if grey < plotW*40/400 {
		t.Errorf("guest idle (50 ms of 400) shows on %d px only", grey)
	}
}

func classify(img image.Image, x, y int) string {
	r, g, b, _ := img.At(x, y).RGBA()
	r, g, b = r>>8, g>>8, b>>8
	switch {
	case r > 180 && g < 110 && b < 110:
		return "red"
	case g > 120 && r < 110 && b < 110:
		return "green"
	case r > 160 && g > 160 && b > 160 && r < 215 && absd(r, b) < 20:
		return "grey"
	}
	return ""
}

func absd(a, b uint32) uint32 {
	if a > b {
		return a - b
	}
	return b - a
}

// TestChromiumLongTrace: a minute of trace is drawn aggregated, each
// pixel column stacked by state: down a column of the VF lane, red takes
// the switched-out share of the height, green the rest.
func TestChromiumLongTrace(t *testing.T) {
	svg, s, want := render(t, 60*time.Second)
	img := screenshot(t, svg, "long")
	wantRed := float64(want) / float64(s.End-s.Start)
	for _, x := range []int{left + plotW/4, left + plotW/2, left + 3*plotW/4} {
		red, green := 0, 0
		for y := top; y < top+laneH; y++ {
			switch classify(img, x, y) {
			case "red":
				red++
			case "green":
				green++
			}
		}
		got := float64(red) / float64(red+green)
		if red+green < laneH-2 || got < wantRed-0.1 || got > wantRed+0.1 {
			t.Errorf("column x=%d: %d red, %d green px of %d; the VF was switched out %.0f%% of the time", x, red, green, laneH, 100*wantRed)
		}
	}
}

// screenshot renders svg in headless Chromium and returns the picture; it
// skips the test when no Chromium is installed.
func screenshot(t *testing.T, svg []byte, name string) image.Image {
	t.Helper()
	var browser string
	for _, b := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(b); err == nil {
			browser = p
			break
		}
	}
	if browser == "" {
		livetest.Skip(t, "no chromium in PATH (apt-get install chromium): screenshot check skipped")
	}
	dir := t.TempDir()
	if *keep != "" {
		dir = *keep
	}
	svgPath, pngPath := filepath.Join(dir, name+".svg"), filepath.Join(dir, name+".png")
	if err := os.WriteFile(svgPath, svg, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
		"--screenshot="+pngPath, "--window-size=1200,300", "file://"+svgPath)
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("chromium: %v\n%s", err, out)
	}
	f, err := os.Open(pngPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	return img
}
