// The official Go SDK's speed peer for bench/servers.py: a stateless streamable-HTTP server
// answering in plain JSON, with one trivial tool, `echo`, as the Python servers have.
//
//	go build -o PEER . && PEER 127.0.0.1:PORT
//
// GET /ready answers 200 once listening, so the bench can time its start like ours.
package main

import (
	"context"
	"log"
	"net"
	"net/http"
	"os"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

type echoArgs struct {
	Text string `json:"text" jsonschema:"the text to return"`
}

func echo(_ context.Context, _ *mcp.CallToolRequest, args echoArgs) (*mcp.CallToolResult, any, error) {
	return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: args.Text}}}, nil, nil
}

func main() {
	if len(os.Args) != 2 {
		log.Fatal("usage: go-sdk-peer HOST:PORT")
	}
	server := mcp.NewServer(&mcp.Implementation{Name: "go-sdk-peer", Version: "0"}, nil)
	mcp.AddTool(server, &mcp.Tool{Name: "echo", Description: "Return the text unchanged."}, echo)
	handler := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return server },
		&mcp.StreamableHTTPOptions{Stateless: true, JSONResponse: true})
	mux := http.NewServeMux()
	mux.Handle("/mcp", handler)
	mux.HandleFunc("/ready", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
	listener, err := net.Listen("tcp", os.Args[1])
	if err != nil {
		log.Fatal(err)
	}
	log.Fatal(http.Serve(listener, mux))
}
