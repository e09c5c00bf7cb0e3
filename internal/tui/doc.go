// Package tui is gpuwatch's live terminal view (tview/tcell): a header
// with the source and event rates, the verdict (share against the
// expectation, slice, period, VFs, mode, confidence), a timeline strip of
// the last few hundred milliseconds that scrolls like an oscilloscope of
// the world switch, the gap histogram, and per-ring and per-process
// tables.
//
// All the arithmetic lives in the sub-package model, which never imports
// tview or tcell and is tested without a screen; this package only lays
// the model's view data out. The screen comes in through New, so tests
// drive the whole application on tcell.NewSimulationScreen.
//
// Keys: q quit, p pause (the engine keeps running; the screen freezes),
// r reset statistics, + / - zoom the strip, ? help.
package tui
