// Package timeline draws an analysis as an SVG picture: a time axis, one
// lane per ring with active / switched-out / idle spans, window annotations
// and the schedule in the title.
package timeline
