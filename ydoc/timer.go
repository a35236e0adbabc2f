package ydoc

import "time"

// A document has one timer for its three deadlines (render, state cache,
// idle check), a time.AfterFunc that posts evTimer: no goroutine waits on
// it, and one timer instead of three. The owner compares each deadline
// with the clock when it fires, so an early or stale firing is harmless.

// fire runs on the timer's goroutine.
func (d *document) fire() { d.inbox.signal(evTimer) }

// rearm makes the timer fire no later than the earliest deadline. A timer
// already set to fire earlier is left alone (it re-arms then): an update
// pushes the render deadline back, and this saves a Reset per update.
func (d *document) rearm() {
	next := d.idleDue
	if d.renderArmed && d.renderDue.Before(next) {
		next = d.renderDue
	}
	if d.state != nil && d.stateDue.Before(next) {
		next = d.stateDue
	}
	if next.IsZero() || !d.timerAt.IsZero() && !next.Before(d.timerAt) {
		return
	}
	d.timerAt = next
	if d.timer == nil {
		d.timer = time.AfterFunc(time.Until(next), d.fire)
		return
	}
	d.timer.Reset(time.Until(next))
}

// onTimer handles what is due; true when the document unloaded.
func (d *document) onTimer() bool {
	d.timerAt = time.Time{}
	now := time.Now()
	if d.renderArmed && !now.Before(d.renderDue) {
		d.renderArmed = false
		d.render()
	}
	if d.state != nil && !now.Before(d.stateDue) {
		d.dropState()
	}
	if !d.idleDue.IsZero() && !now.Before(d.idleDue) {
		if d.m.hookIdleCheck != nil {
			d.m.hookIdleCheck()
		}
		if d.idle() && d.m.unregister(d) {
			d.unloaded()
			return true
		}
		d.idleDue = time.Now().Add(d.nextIdleCheck())
	}
	return false
}

func (d *document) stopTimer() {
	if d.timer != nil {
		d.timer.Stop()
	}
}
