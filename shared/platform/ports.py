"""The four service processes and their default HTTP ports (a module of its own, light to
import, so that `yrkesresan` can name the services without loading its settings machinery)."""

SERVICE_PORTS = {"enrolment": 8001, "scheduling": 8002, "certification": 8003, "billing": 8004}
