// Command wsprobe is a development aid: it opens a WebSocket to a condure
// listener, sends a text, a binary, a ping and a close, and prints what
// comes back, for comparing Debian's condure with ours by hand.
package main

import (
	"flag"
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/gorilla/websocket"
)

func main() {
	url := flag.String("url", "ws://127.0.0.1:27100/ws", "URL")
	compress := flag.Bool("compress", false, "offer permessage-deflate")
	flag.Parse()
	d := websocket.Dialer{EnableCompression: *compress, HandshakeTimeout: 5 * time.Second}
	h := http.Header{"Sec-WebSocket-Protocol": {"foo"}}
	c, resp, err := d.Dial(*url, h)
	if resp != nil {
		fmt.Printf("%s\n", resp.Status)
		resp.Header.Write(os.Stdout)
	}
	if err != nil {
		fmt.Println("dial:", err)
		return
	}
	c.SetPongHandler(func(s string) error { fmt.Printf("pong %q\n", s); return nil })
	c.SetCloseHandler(func(code int, text string) error { fmt.Printf("close %d %q\n", code, text); return nil })
	c.WriteMessage(websocket.TextMessage, []byte("hello"))
	c.WriteMessage(websocket.BinaryMessage, []byte("binary"))
	c.WriteControl(websocket.PingMessage, []byte("pp"), time.Now().Add(time.Second))
	c.SetReadDeadline(time.Now().Add(3 * time.Second))
	for i := 0; i < 2; i++ {
		t, m, err := c.ReadMessage()
		if err != nil {
			fmt.Println("read:", err)
			return
		}
		fmt.Printf("msg %d %q\n", t, m)
	}
	c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(4001, "bye"), time.Now().Add(time.Second))
	_, _, err = c.ReadMessage()
	fmt.Println("final:", err)
}
