"""The REST verbs over HTTP, one module per verb, as Kubernetes' `endpoints/handlers`.

Each handler is a free function `(scope, storage) -> response`: it reads the request through the
`RequestScope`, calls the storage the installer paired it with, and writes the answer in the
negotiated form. Handlers are the same for every kind and every storage; what differs lives in
the kind's `Strategy` and in the storage (`kubelite.apiserver.registry`). No handler imports
`installer`, and none imports another verb's module unless it reuses it.
"""
