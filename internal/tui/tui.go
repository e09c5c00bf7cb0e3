package tui

import (
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/gdamore/tcell/v2"
	"github.com/rivo/tview"

	"github.com/gpuwatch/gpuwatch/internal/gaps"
	"github.com/gpuwatch/gpuwatch/internal/live"
	"github.com/gpuwatch/gpuwatch/internal/tui/model"
)

// Source is what the TUI shows; *live.Runner implements it.
type Source interface {
	Snapshot() (*gaps.Snapshot, live.Stats)
	Reset()
}

// Options configure an App.
type Options struct {
	// Expect is the expected share (0: none); ExpectText as the user wrote it.
	Expect     float64
	ExpectText string
	// Interval is the time between snapshots and redraws (default 200 ms:
	// 5 Hz). Drawing never happens more often than this plus one redraw per
	// key or resize.
	Interval time.Duration
	// Step is the strip's initial time per cell (0: model.DefaultZoom's).
	Step time.Duration
	// Suspend, if set, is called on Ctrl-Z with the terminal restored
	// (screen.Suspend) and the view resumes when it returns; the command
	// passes a function that stops the process with SIGTSTP, so the shell
	// takes the terminal back until `fg`. Nil: Ctrl-Z does nothing.
	Suspend func()
	// Note, when set, is shown at the right of the header line (`gpuwatch
	// run` names its command and the file its output goes to).
	Note string
}

// DefaultInterval is the redraw period when Options.Interval is zero.
const DefaultInterval = 200 * time.Millisecond

// App is the live view on one screen.
type App struct {
	screen tcell.Screen
	src    Source
	opts   Options
	m      *model.Model
	root   *tview.Flex
	help   bool

	strip                                 model.Strip // computed at each draw
	bottom, right                         *tview.Flex
	stripBox, histBox, ringsBox, procsBox *tview.Box

	stopOnce sync.Once
	stop     chan struct{}

	// drawn is signalled (without blocking) after every draw; tests wait on it.
	drawn chan struct{}
}

// New builds the view on screen, which the caller has initialised
// (screen.Init) and finalises after Run returns.
func New(screen tcell.Screen, src Source, opts Options) *App {
	if opts.Interval <= 0 {
		opts.Interval = DefaultInterval
	}
	a := &App{
		screen: screen, src: src, opts: opts,
		m:     model.New(model.Options{Expect: opts.Expect, ExpectText: opts.ExpectText}),
		stop:  make(chan struct{}),
		drawn: make(chan struct{}, 1),
	}
	a.m.SetStep(opts.Step)
	a.root = a.layout()
	return a
}

// Run shows the source until the user presses q (or Ctrl-C) or Stop is
// called. It returns nil then.
func (a *App) Run() error {
	events, quit := a.listen()
	defer func() { close(quit) }()
	a.screen.HideCursor()

	tick := time.NewTicker(a.opts.Interval)
	defer tick.Stop()
	a.refresh()
	a.draw()
	for {
		select {
		case <-a.stop:
			return nil
		case ev, ok := <-events:
			if !ok {
				return nil // the screen was finalised
			}
			act := a.handle(ev)
			// Coalesce what else is pending (key repeat, resize storms)
			// into this one draw.
			for act == actNone {
				select {
				case ev, ok := <-events:
					if !ok {
						return nil
					}
					act = a.handle(ev)
					continue
				default:
				}
				break
			}
			switch act {
			case actQuit:
				return nil
			case actSuspend:
				// Suspend ends the screen's event loop: listen anew after.
				close(quit)
				if err := a.screen.Suspend(); err == nil {
					a.opts.Suspend()
					if err := a.screen.Resume(); err != nil {
						return fmt.Errorf("resuming the terminal: %w", err)
					}
				}
				events, quit = a.listen()
				a.screen.HideCursor()
				a.screen.Sync()
			}
			a.draw()
		case <-tick.C:
			a.refresh()
			a.draw()
		}
	}
}

// listen channels the screen's events until quit is closed.
func (a *App) listen() (chan tcell.Event, chan struct{}) {
	events := make(chan tcell.Event, 16)
	quit := make(chan struct{})
	go a.screen.ChannelEvents(events, quit)
	return events, quit
}

// Stop ends Run; safe from any goroutine, more than once.
func (a *App) Stop() { a.stopOnce.Do(func() { close(a.stop) }) }

// refresh takes a snapshot unless paused.
func (a *App) refresh() {
	if a.m.Paused() {
		return
	}
	s, st := a.src.Snapshot()
	a.m.Update(s, st)
}

type action int

const (
	actNone action = iota
	actQuit
	actSuspend
)

// handle reacts to one event.
func (a *App) handle(ev tcell.Event) action {
	switch ev := ev.(type) {
	case *tcell.EventResize:
		a.screen.Sync()
	case *tcell.EventKey:
		switch ev.Key() {
		case tcell.KeyCtrlC:
			return actQuit
		case tcell.KeyCtrlZ:
			if a.opts.Suspend != nil {
				return actSuspend
			}
			return actNone
		}
		if a.help {
			a.help = false
			if ev.Key() == tcell.KeyRune && ev.Rune() == 'q' {
				return actQuit
			}
			return actNone
		}
		switch ev.Key() {
		case tcell.KeyEscape:
		case tcell.KeyRune:
			switch ev.Rune() {
			case 'q', 'Q':
				return actQuit
			case 'p', 'P', ' ':
				a.m.TogglePause()
			case 'r', 'R':
				a.src.Reset()
				a.m.Reset()
				a.refresh()
			case '+', '=':
				a.m.ZoomIn()
			case '-', '_':
				a.m.ZoomOut()
			case '?', 'h':
				a.help = true
			}
		}
	}
	return actNone
}

func (a *App) draw() {
	a.screen.Clear()
	w, h := a.screen.Size()
	if w < 40 || h < 12 {
		for i, l := range []string{"gpuwatch:", fmt.Sprintf("terminal %d×%d", w, h), "is too small,", "40×12 at least,", "80×24 is best"} {
			tview.Print(a.screen, l, 0, i, w, tview.AlignLeft, colText)
		}
	} else {
		a.bottom.ResizeItem(a.histBox, max(28, min(48, w*3/8)), 0)
		n := 1
		if snap := a.m.Snapshot(); snap != nil {
			n = max(1, len(snap.Rings))
		}
		a.right.ResizeItem(a.ringsBox, min(n+3, max(4, (h-10)/2)), 0)
		a.strip = a.m.Strip(w - 2)
		a.stripBox.SetTitle(" timeline · " + a.strip.Title + " ")
		a.histBox.SetTitle(a.histTitle())
		a.root.SetRect(0, 0, w, h)
		a.root.Draw(a.screen)
		if a.help {
			a.drawHelp(w, h)
		}
	}
	a.screen.Show()
	select {
	case a.drawn <- struct{}{}:
	default:
	}
}

// Colours.
var (
	colActive = tcell.ColorGreen
	colOut    = tcell.ColorRed
	colIdle   = tcell.ColorGray
	colStall  = tcell.ColorYellow
	colTitle  = tcell.ColorAqua
	colText   = tcell.ColorDefault // the terminal's own foreground
)

func colourTag(c tcell.Color) string { return "[" + c.String() + "]" }

func levelColour(l model.Level) tcell.Color {
	switch l {
	case model.LevelOK:
		return colActive
	case model.LevelBelow:
		return colOut
	case model.LevelLow:
		return colStall
	case model.LevelInfo:
		return colText
	}
	return colIdle
}

func panel(title string, draw func(s tcell.Screen, x, y, w, h int)) *tview.Box {
	b := tview.NewBox().SetBackgroundColor(tcell.ColorDefault)
	if title != "" {
		b.SetBorder(true).SetBorderColor(colIdle).SetTitleAlign(tview.AlignLeft).SetTitleColor(colTitle)
	}
	b.SetDrawFunc(func(s tcell.Screen, x, y, w, h int) (int, int, int, int) {
		ix, iy, iw, ih := x, y, w, h
		if title != "" {
			ix, iy, iw, ih = x+1, y+1, w-2, h-2
		}
		if iw > 0 && ih > 0 {
			draw(s, ix, iy, iw, ih)
		}
		return ix, iy, iw, ih
	})
	return b
}

func (a *App) layout() *tview.Flex {
	header := panel("", a.drawHeader)
	verdict := panel("", a.drawVerdict)
	strip := panel(" timeline ", a.drawStrip)
	hist := panel(" gaps while busy ", a.drawHist)
	rings := panel(" rings ", a.drawRings)
	procs := panel(" processes ", a.drawProcs)
	a.stripBox, a.histBox = strip, hist

	right := tview.NewFlex().SetDirection(tview.FlexRow)
	right.AddItem(rings, 0, 1, false).AddItem(procs, 0, 1, false)
	a.right, a.ringsBox, a.procsBox = right, rings, procs
	bottom := tview.NewFlex().SetDirection(tview.FlexColumn).
		AddItem(hist, 30, 0, false).
		AddItem(right, 0, 1, false)
	a.bottom = bottom
	return tview.NewFlex().SetDirection(tview.FlexRow).
		AddItem(header, 1, 0, false).
		AddItem(verdict, 3, 0, false).
		AddItem(strip, 6, 0, false).
		AddItem(bottom, 0, 1, false)
}

// print writes tagged text clipped to w cells.
func print(s tcell.Screen, text string, x, y, w int, c tcell.Color) {
	tview.Print(s, text, x, y, w, tview.AlignLeft, c)
}

func (a *App) drawHeader(s tcell.Screen, x, y, w, h int) {
	hdr := tview.Escape(a.m.Header())
	if st := a.m.Stats(); st.Lost > 0 {
		lost := "lost " + model.Count(float64(st.Lost))
		hdr = strings.Replace(hdr, lost, colourTag(colStall)+lost+"[-]", 1)
	}
	print(s, hdr, x, y, w, colText)
	right := "? help"
	if a.opts.Note != "" {
		right = tview.Escape(a.opts.Note) + "  " + right
	}
	if st := a.m.Status(); st != "" {
		c := colStall
		if strings.HasPrefix(st, "ERROR") {
			c = colOut
		}
		// A long status (a warning's sentence) is cut rather than
		// drawn over the header's counts.
		avail := max(w-tview.TaggedStringWidth(hdr)-len(right)-4, 12)
		if r := []rune(st); len(r) > avail {
			st = string(r[:avail-1]) + "…"
		}
		right = colourTag(c) + tview.Escape(st) + "[-]  " + right
	}
	tview.Print(s, right, x, y, w, tview.AlignRight, colText)
}

func (a *App) drawVerdict(s tcell.Screen, x, y, w, h int) {
	v := a.m.Verdict()
	print(s, tview.Escape(v.Share), x, y, w, levelColour(v.Level))
	if h > 1 {
		print(s, tview.Escape(v.Schedule), x, y+1, w, colText)
	}
	if h > 2 {
		third := v.Recent
		if third == "" {
			third = v.Totals
		}
		print(s, tview.Escape(third), x, y+2, w, colIdle)
	}
}

// glyphs of a strip cell: top and bottom row, colour.
func glyphs(c model.Cell) (top, bottom rune, col tcell.Color) {
	switch c {
	case model.CellActive:
		return '█', '█', colActive
	case model.CellSwitchedOut:
		return ' ', '▒', colOut
	case model.CellIdle:
		return ' ', '·', colIdle
	case model.CellStall:
		return '▄', '▓', colStall
	}
	return ' ', ' ', tcell.ColorDefault
}

func (a *App) drawStrip(s tcell.Screen, x, y, w, h int) {
	st := a.strip
	if len(st.Cells) != w {
		st = a.m.Strip(w)
	}
	for i, c := range st.Cells {
		top, bot, col := glyphs(c)
		style := tcell.StyleDefault.Foreground(col)
		if h > 1 {
			s.SetContent(x+i, y, top, nil, style)
			s.SetContent(x+i, y+1, bot, nil, style)
		} else {
			s.SetContent(x+i, y, bot, nil, style)
		}
	}
	row := y + 2
	if row < y+h {
		print(s, st.Axis, x, row, w, colIdle)
		row++
	}
	if row < y+h {
		legend := colourTag(colActive) + "█ active " + colourTag(colOut) + "▒ switched out " +
			colourTag(colIdle) + "· idle " + colourTag(colStall) + "▄▓ stalled"
		print(s, legend, x, row, w, colText)
		_, _, col := glyphs(st.NowCell)
		if st.NowCell == model.CellNone || st.NowCell == model.CellActive {
			col = colText
		}
		if len([]rune(st.Now))+42 <= w {
			tview.Print(s, tview.Escape(st.Now), x, row, w, tview.AlignRight, col)
		}
	}
}

// eighths are the partial block glyphs for bar ends.
var eighths = []rune{' ', '▏', '▎', '▍', '▌', '▋', '▊', '▉'}

func (a *App) histTitle() string {
	if snap := a.m.Snapshot(); snap != nil && snap.Threshold > 0 {
		return " gaps · windows ≥" + model.Dur(snap.Threshold) + " "
	}
	return " gaps while busy "
}

func (a *App) drawHist(s tcell.Screen, x, y, w, h int) {
	bars := a.m.Hist(h)
	if len(bars) == 0 {
		print(s, "no gaps yet", x, y, w, colIdle)
		return
	}
	lw, cw := 0, 0
	for _, b := range bars {
		lw = max(lw, len([]rune(b.Label)))
		cw = max(cw, len(model.Count(float64(b.Count))))
	}
	bw := w - lw - cw - 2
	for i, b := range bars {
		col := colActive
		if b.Window {
			col = colOut
		}
		label := fmt.Sprintf("%*s", lw, b.Label)
		print(s, label, x, y+i, lw, colText)
		if bw > 0 {
			units := int(b.Frac*float64(bw*8) + 0.5)
			if b.Count > 0 && units == 0 {
				units = 1
			}
			style := tcell.StyleDefault.Foreground(col)
			for k := 0; k < bw; k++ {
				r := ' '
				switch u := units - 8*k; {
				case u >= 8:
					r = '█'
				case u > 0:
					r = eighths[u]
				}
				s.SetContent(x+lw+1+k, y+i, r, nil, style)
			}
		}
		cnt := model.Count(float64(b.Count))
		print(s, fmt.Sprintf("%*s", cw, cnt), x+w-cw, y+i, cw, colIdle)
	}
}

func (a *App) drawRings(s tcell.Screen, x, y, w, h int) {
	rows := [][]string{model.RingHeader.Cells()}
	for _, r := range a.m.Rings() {
		rows = append(rows, r.Cells())
	}
	if len(rows) == 1 {
		print(s, "no jobs yet", x, y, w, colIdle)
		return
	}
	for i, line := range model.FitTable(rows, w, model.RingOptional) {
		if i >= h {
			break
		}
		c := colText
		if i == 0 {
			c = colTitle
		}
		print(s, tview.Escape(line), x, y+i, w, c)
	}
}

func (a *App) drawProcs(s tcell.Screen, x, y, w, h int) {
	rows := [][]string{model.ProcHeader.Cells()}
	for _, r := range a.m.Procs(h - 1) {
		rows = append(rows, r.Cells())
	}
	if len(rows) == 1 {
		print(s, "the events name no process", x, y, w, colIdle)
		return
	}
	for i, line := range model.FitTable(rows, w, nil) {
		c := colText
		if i == 0 {
			c = colTitle
		}
		print(s, tview.Escape(line), x, y+i, w, c)
	}
}

func (a *App) drawHelp(w, h int) {
	lines := model.Help
	bw := 0
	for _, l := range lines {
		bw = max(bw, len([]rune(l)))
	}
	bw = min(bw+4, w)
	bh := min(len(lines)+2, h)
	x, y := (w-bw)/2, (h-bh)/2
	box := tview.NewBox().SetBorder(true).SetTitle(" help ").SetTitleColor(colTitle).SetBorderColor(colTitle).SetBackgroundColor(tcell.ColorDefault)
	box.SetRect(x, y, bw, bh)
	box.Draw(a.screen)
	for i, l := range lines {
		if i+1 >= bh-1 {
			break
		}
		print(a.screen, tview.Escape(l), x+2, y+1+i, bw-4, colText)
	}
}
