package timeline

import (
	"bufio"
	"fmt"
	"html"
	"io"
	"math"
	"sort"
	"time"

	"github.com/gpuwatch/gpuwatch/internal/gaps"
)

// Geometry of the picture, in SVG user units (pixels).
const (
	width      = 1200
	left       = 120 // lane labels
	right      = 20
	top        = 64
	laneH      = 26
	laneGap    = 8
	axisH      = 40
	legendH    = 28
	plotW      = width - left - right
	columns    = plotW // one aggregation column per pixel
	maxLabeled = 40    // windows labelled individually up to this many in view
)

// Colours: active, switched out, guest idle, stall.
const (
	colActive = "#2e9e44"
	colOut    = "#d7263d"
	colIdle   = "#b8bcc2"
	colStall  = "#f29e4c"
	colBg     = "#f4f5f7"
)

// WriteSVG draws s without per-ring lanes (only the VF lane). Use a
// Recorder fed with the same events to get one lane per ring.
func WriteSVG(w io.Writer, s *gaps.Snapshot) error {
	return (*Recorder)(nil).WriteSVG(w, s)
}

// WriteSVG draws s with one lane per ring recorded by r (r may be nil).
func (r *Recorder) WriteSVG(w io.Writer, s *gaps.Snapshot) error {
	bw := bufio.NewWriter(w)
	d := drawing{w: bw, s: s, r: r, t0: s.Start, t1: s.End}
	if d.t1 <= d.t0 {
		d.t1 = d.t0 + 1
	}
	if r != nil {
		r.Finish(s.End)
	}
	d.draw()
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("writing svg: %w", err)
	}
	return nil
}

type drawing struct {
	w      *bufio.Writer
	s      *gaps.Snapshot
	r      *Recorder
	t0, t1 int64
}

func (d *drawing) x(t int64) float64 {
	return left + float64(t-d.t0)/float64(d.t1-d.t0)*plotW
}

func (d *drawing) colTime(c int) int64 {
	return d.t0 + int64(float64(d.t1-d.t0)*float64(c)/columns)
}

func (d *drawing) printf(format string, a ...any) { fmt.Fprintf(d.w, format, a...) }

func (d *drawing) draw() {
	s := d.s
	var lanes []*lane
	if d.r != nil {
		lanes = append(lanes, d.r.rings...)
		sort.Slice(lanes, func(i, j int) bool { return lanes[i].name < lanes[j].name })
	}
	n := 1 + len(lanes)
	height := top + n*(laneH+laneGap) + axisH + legendH
	d.printf(`<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="DejaVu Sans, Helvetica, Arial, sans-serif">`+"\n", width, height, width, height)
	d.printf(`<rect width="100%%" height="100%%" fill="white"/>` + "\n")
	d.printf(`<text x="%d" y="24" font-size="17" font-weight="bold">%s</text>`+"\n", left, html.EscapeString(title(s)))
	d.printf(`<text x="%d" y="44" font-size="12" fill="#444">%s</text>`+"\n", left, html.EscapeString(subtitle(s)))

	// Per-column fractions of the VF states.
	out, idle, stall := d.windowFractions()

	y := top
	d.lane(y, "VF", func(c int) [numStates]float64 {
		var f [numStates]float64
		f[stOut], f[stStall], f[stIdle] = out[c], stall[c], idle[c]
		f[stActive] = max(0, 1-out[c]-stall[c]-idle[c])
		return f
	})
	d.annotate(y)
	for _, l := range lanes {
		y += laneH + laneGap
		l := l
		d.lane(y, l.name, func(c int) [numStates]float64 {
			var f [numStates]float64
			a, b := d.colTime(c), d.colTime(c+1)
			bf := d.r.busyFraction(l, a, b)
			if bf <= 0 {
				return f
			}
			// Work outstanding while the VF was switched out (or stalled)
			// is stalled work; the rest of the busy time ran.
			held := min(bf, out[c]+stall[c])
			if held > 0 {
				f[stOut] = held * out[c] / (out[c] + stall[c])
				f[stStall] = held - f[stOut]
			}
			f[stActive] = bf - held
			return f
		})
	}
	y += laneH + laneGap
	d.axis(y)
	d.legend(y + axisH)
	d.printf("</svg>\n")
}

// States drawn in a lane, top to bottom.
const (
	stActive = iota
	stOut
	stStall
	stIdle
	numStates
)

var stateColour = [numStates]string{colActive, colOut, colStall, colIdle}

// lane draws one lane; cell gives the fraction of each column's time in
// each state, drawn as a stacked column (heights in whole pixels): a pure
// column is one colour, an aggregated one (a long trace, many turns per
// pixel) shows the proportions, so 48 % active reads as half green, half
// red. Neighbouring columns with the same heights merge into one
// rectangle per state, so a long trace stays a small file.
func (d *drawing) lane(y int, name string, cell func(c int) [numStates]float64) {
	d.printf(`<text x="%d" y="%d" font-size="13" text-anchor="end">%s</text>`+"\n", left-8, y+laneH/2+5, html.EscapeString(name))
	d.printf(`<rect x="%d" y="%d" width="%d" height="%d" fill="%s"/>`+"\n", left, y, plotW, laneH, colBg)
	heights := func(f [numStates]float64) [numStates]int {
		var h [numStates]int
		used := 0
		for i, v := range f {
			n := int(math.Round(v * laneH))
			n = min(max(n, 0), laneH-used)
			if v > 0 && n == 0 && used < laneH {
				n = 1 // a sliver stays visible
			}
			h[i] = n
			used += n
		}
		return h
	}
	runStart := 0
	var runH [numStates]int
	flush := func(end int) {
		yy := y
		for i, h := range runH {
			if h > 0 {
				d.printf(`<rect x="%d" y="%d" width="%d" height="%d" fill="%s"/>`+"\n", left+runStart, yy, end-runStart, h, stateColour[i])
			}
			yy += h
		}
	}
	for c := 0; c < columns; c++ {
		h := heights(cell(c))
		if c == 0 || h != runH {
			if c > 0 {
				flush(c)
			}
			runStart, runH = c, h
		}
	}
	flush(columns)
}

// windowFractions returns, per column, the fraction of its time inside
// switched-out, guest-idle and stall windows.
func (d *drawing) windowFractions() (out, idle, stall []float64) {
	out, idle, stall = make([]float64, columns), make([]float64, columns), make([]float64, columns)
	colW := float64(d.t1-d.t0) / columns
	for _, w := range d.s.Windows {
		var dst []float64
		switch w.Kind {
		case gaps.SwitchedOut:
			dst = out
		case gaps.GuestIdle:
			dst = idle
		case gaps.Steal:
			continue // the GPU ran: active
		default:
			dst = stall
		}
		a, b := max(w.Start, d.t0), min(w.End, d.t1)
		if b <= a {
			continue
		}
		ca := int(float64(a-d.t0) / colW)
		cb := int(float64(b-d.t0) / colW)
		for c := ca; c <= cb && c < columns; c++ {
			cs := d.t0 + int64(float64(c)*colW)
			ce := d.t0 + int64(float64(c+1)*colW)
			ov := min(b, ce) - max(a, cs)
			if ov > 0 {
				dst[c] += float64(ov) / colW
			}
		}
	}
	return out, idle, stall
}

// annotate labels the switched-out windows above the VF lane: each one
// when few are in view, else the longest five.
func (d *drawing) annotate(y int) {
	var ws []gaps.Window
	for _, w := range d.s.Windows {
		if w.Kind == gaps.SwitchedOut {
			ws = append(ws, w)
		}
	}
	if len(ws) > maxLabeled {
		sort.Slice(ws, func(i, j int) bool { return ws[i].Duration() > ws[j].Duration() })
		ws = ws[:5]
	}
	lastX := -1e9
	sort.Slice(ws, func(i, j int) bool { return ws[i].Start < ws[j].Start })
	for _, w := range ws {
		if d.x(w.End)-d.x(w.Start) < 20 {
			continue // aggregated view: a label per window would be noise
		}
		xm := (d.x(w.Start) + d.x(w.End)) / 2
		if xm-lastX < 46 {
			continue // would overlap the previous label
		}
		lastX = xm
		d.printf(`<text x="%.1f" y="%d" font-size="10" text-anchor="middle" fill="%s">%s</text>`+"\n", xm, y-3, colOut, ms(w.Duration()))
	}
}

func (d *drawing) axis(y int) {
	d.printf(`<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#333"/>`+"\n", left, y, left+plotW, y)
	span := float64(d.t1-d.t0) / 1e9
	step := niceStep(span / 8)
	first := math.Ceil(float64(d.t0)/1e9/step) * step
	digits := max(0, int(math.Ceil(-math.Log10(step)+1e-9)))
	for v := first; v <= float64(d.t1)/1e9+1e-12; v += step {
		x := d.x(int64(math.Round(v * 1e9)))
		d.printf(`<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#333"/>`+"\n", x, y, x, y+5)
		d.printf(`<text x="%.1f" y="%d" font-size="11" text-anchor="middle">%.*f</text>`+"\n", x, y+18, digits, v)
	}
	d.printf(`<text x="%d" y="%d" font-size="11" text-anchor="end" fill="#444">trace clock, s</text>`+"\n", left+plotW, y+34)
}

func (d *drawing) legend(y int) {
	items := []struct{ col, name string }{
		{colActive, "active (work completing)"}, {colOut, "switched out / stalled"},
		{colIdle, "guest idle"}, {colStall, "stall (no schedule)"},
	}
	x := left
	for _, it := range items {
		d.printf(`<rect x="%d" y="%d" width="14" height="14" fill="%s"/>`+"\n", x, y+2, it.col)
		d.printf(`<text x="%d" y="%d" font-size="12">%s</text>`+"\n", x+20, y+13, it.name)
		x += 40 + 8*len(it.name)
	}
}

func niceStep(raw float64) float64 {
	if raw <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= raw {
			return m * p
		}
	}
	return 10 * p
}

func ms(d time.Duration) string {
	return fmt.Sprintf("%.2f ms", float64(d)/1e6)
}

func title(s *gaps.Snapshot) string {
	share := "share unresolved"
	if m := s.Share; m.Resolved {
		share = fmt.Sprintf("share %.1f%% ± %.1f pp", 100*m.Ratio, 100*m.Err)
	}
	t := &s.Timeslice
	if !t.Detected {
		r := t.Reason
		if r == "" {
			r = "no time slicing seen"
		}
		if len(r) > 70 {
			r = r[:67] + "..."
		}
		return "gpuwatch: " + share + " · no schedule detected (" + r + ")"
	}
	vfs := "VFs unknown"
	if t.VFs > 0 {
		vfs = fmt.Sprintf("%d VFs", t.VFs)
	}
	return fmt.Sprintf("gpuwatch: %s · schedule %s of every %s · %s · %s · confidence %.2f",
		share, ms(t.Slice), ms(t.Period), vfs, t.Mode, t.Confidence)
}

func subtitle(s *gaps.Snapshot) string {
	n := 0
	for _, w := range s.Windows {
		if w.Kind == gaps.SwitchedOut {
			n++
		}
	}
	return fmt.Sprintf("%.6f – %.6f s (%.3f s), %d events, %d switched-out windows (%.3f s in total), %d lost events",
		float64(s.Start)/1e9, float64(s.End)/1e9, float64(s.End-s.Start)/1e9,
		s.Input.Events, n, s.SwitchedOutTotal.Seconds(), s.Input.Lost)
}
