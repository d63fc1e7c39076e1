package responder

import (
	"testing"

	"github.com/pushpin-go/pushpin/protocol/zhttp"
)

func TestMailbox(t *testing.T) {
	tests := []struct {
		name    string
		puts    int
		wantOK  int // puts accepted
		wantLen int // packets taken
	}{
		{"empty", 0, 0, 0},
		{"one", 1, 1, 1},
		{"exactly full", inboxSize, inboxSize, inboxSize},
		{"overflow refused", inboxSize + 5, inboxSize, inboxSize},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := mailbox{ready: make(chan struct{}, 1)}
			ok := 0
			for i := 0; i < tt.puts; i++ {
				if b.put(inMsg{p: &zhttp.Packet{}, seq: i}) {
					ok++
				}
			}
			if ok != tt.wantOK {
				t.Fatalf("accepted %d, want %d", ok, tt.wantOK)
			}
			select {
			case <-b.ready:
				if tt.puts == 0 {
					t.Fatal("ready without a packet")
				}
			default:
				if tt.puts > 0 {
					t.Fatal("not ready after a put")
				}
			}
			got := b.take(nil)
			if len(got) != tt.wantLen {
				t.Fatalf("took %d, want %d", len(got), tt.wantLen)
			}
			for i, m := range got {
				if m.seq != i {
					t.Fatalf("order: position %d has seq %d", i, m.seq)
				}
			}
			// The spare buffer comes back cleared and is reused.
			if again := b.take(got); len(again) != 0 {
				t.Fatalf("second take %d", len(again))
			}
			if len(got) > 0 && got[:1][0].p != nil {
				t.Fatal("spare buffer not cleared")
			}
			if !b.put(inMsg{seq: 99}) {
				t.Fatal("put after take refused")
			}
		})
	}
}
