// HttpConnection: a worker's turn on one client connection, handed over by the ConnectionGate
// once a request has fully arrived. It serves requests with Poco's HTTP server classes for as
// long as the next one follows at once (a client sending request after request keeps its
// worker), then gives the kept-alive connection back to the gate instead of waiting on it.
#pragma once

#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/TCPServerConnection.h>
#include <Poco/Net/TCPServerConnectionFactory.h>

#include <utility>

#include "net/connection_gate.h"

namespace grid {

class HttpConnection : public Poco::Net::TCPServerConnection {
 public:
  HttpConnection(const Poco::Net::StreamSocket& socket,
                 Poco::Net::HTTPRequestHandlerFactory& handlers,
                 const Poco::Net::HTTPServerParams::Ptr& params, ConnectionGate& gate);
  void run() override;

 private:
  Poco::Net::HTTPRequestHandlerFactory& handlers_;
  Poco::Net::HTTPServerParams::Ptr params_;
  ConnectionGate& gate_;
};

class HttpConnectionFactory : public Poco::Net::TCPServerConnectionFactory {
 public:
  HttpConnectionFactory(Poco::Net::HTTPRequestHandlerFactory& handlers,
                        Poco::Net::HTTPServerParams::Ptr params, ConnectionGate& gate)
      : handlers_(handlers), params_(std::move(params)), gate_(gate) {}
  Poco::Net::TCPServerConnection* createConnection(const Poco::Net::StreamSocket& socket) override {
    return new HttpConnection(socket, handlers_, params_, gate_);
  }

 private:
  Poco::Net::HTTPRequestHandlerFactory& handlers_;
  Poco::Net::HTTPServerParams::Ptr params_;
  ConnectionGate& gate_;
};

}  // namespace grid
