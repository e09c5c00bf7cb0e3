package main

import "testing"

// TestRestoreOnPanic: a panic in a goroutine guarded by restoreOnPanic
// restores (closes the source) before it goes on.
func TestRestoreOnPanic(t *testing.T) {
	closed := 0
	var got any
	func() {
		defer func() { got = recover() }()
		defer restoreOnPanic(func() { closed++ })
		panic("boom")
	}()
	if closed != 1 || got != "boom" {
		t.Errorf("closed %d times, panic went on as %v; want 1 and boom", closed, got)
	}
	// Without a panic it does nothing.
	func() {
		defer restoreOnPanic(func() { closed++ })
	}()
	if closed != 1 {
		t.Errorf("restored without a panic")
	}
}
