package engine

import (
	"fmt"
	"testing"

	"github.com/pebbe/zmq4"

	"github.com/pushpin-go/pushpin/protocol/publish"
)

// benchState is testState with the output going to a real PUB socket (no
// subscriber: libzmq drops after the copy), so the benchmark includes the
// zmq_send cost of every delivery.
func benchState(b *testing.B) *state {
	st, _ := testState(b, nil)
	sock, err := zmq4.NewSocket(zmq4.PUB)
	if err != nil {
		b.Fatal(err)
	}
	if err := sock.Bind("inproc://bench-" + fmt.Sprint(b.N)); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { sock.Close() })
	st.out.sink = nil
	st.out.sock = sock
	return st
}

// BenchmarkFanOutOneChannel: one publish to 10,000 stream subscribers of one
// channel; ns/op is the cost of the whole fan-out.
func BenchmarkFanOutOneChannel(b *testing.B) {
	st := benchState(b)
	const n = 10000
	for i := 0; i < n; i++ {
		addSession(st, fmt.Sprintf("0-0-%d", i), StreamHold, 1<<40, "one")
	}
	it := &publish.Item{Channel: "one", HTTPStream: &publish.HTTPStreamFormat{Content: []byte("data: hello world\n\n")}}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		st.receive(it)
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "deliveries/s")
}

// BenchmarkFanOutManyChannels: 10,000 channels with one subscriber each;
// one op publishes once to every channel.
func BenchmarkFanOutManyChannels(b *testing.B) {
	st := benchState(b)
	const n = 10000
	items := make([]*publish.Item, n)
	for i := 0; i < n; i++ {
		ch := fmt.Sprintf("c%d", i)
		addSession(st, fmt.Sprintf("0-0-%d", i), StreamHold, 1<<40, ch)
		items[i] = &publish.Item{Channel: ch, HTTPStream: &publish.HTTPStreamFormat{Content: []byte("data: hello world\n\n")}}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for _, it := range items {
			st.receive(it)
		}
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "deliveries/s")
}
