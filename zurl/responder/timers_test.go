package responder

import (
	"testing"
	"time"
)

func TestSessionTimersFired(t *testing.T) {
	past := time.Now().Add(-time.Second)
	future := time.Now().Add(time.Hour)
	tests := []struct {
		name string
		at   [evCount]time.Time
		want timerEvent
		keep bool // the event stays scheduled (keep-alive)
	}{
		{"nothing due (moved later)", [evCount]time.Time{evActivity: future, evExpire: future}, evNone, false},
		{"activity wins over expiry", [evCount]time.Time{evActivity: past, evExpire: past}, evActivity, false},
		{"deadline", [evCount]time.Time{evActivity: future, evDeadline: past}, evDeadline, false},
		{"expiry", [evCount]time.Time{evActivity: future, evExpire: past, evKeepAlive: future}, evExpire, false},
		{"keep-alive rescheduled", [evCount]time.Time{evActivity: future, evKeepAlive: past}, evKeepAlive, true},
		{"none in use", [evCount]time.Time{}, evNone, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := &sessionTimers{at: tt.at, every: time.Minute, timer: time.NewTimer(time.Hour)}
			defer st.stop()
			got := st.fired()
			if got != tt.want {
				t.Fatalf("fired %d, want %d", got, tt.want)
			}
			if got == evNone {
				return
			}
			if at := st.at[got]; at.IsZero() == tt.keep {
				t.Fatalf("event %d left at %v", got, at)
			}
			if tt.keep && !st.at[got].After(time.Now()) {
				t.Fatal("keep-alive not moved into the future")
			}
		})
	}
}
