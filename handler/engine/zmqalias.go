package engine

import "github.com/pebbe/zmq4"

// zmqSocket is the socket type ops posted to an actor receive.
type zmqSocket = zmq4.Socket
