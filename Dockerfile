# One pyredis_cluster node; for a cluster, run several containers on one network with
# --cluster-enabled yes and create it with redis-cli --cluster create.
#   docker build -t pyredis-cluster .
#   docker run --rm -p 6379:6379 pyredis-cluster
#   docker run --rm pyredis-cluster python -m pyredis_cluster --bind 0.0.0.0 --protected-mode no \
#       --cluster-enabled yes                     # any redis-server option, as --name value
FROM python:3.11-slim

WORKDIR /app
COPY pyproject.toml README.md ./
COPY pyredis_cluster ./pyredis_cluster
RUN pip install --no-cache-dir ".[fast]"

WORKDIR /data
# Client port and cluster bus port (client port + 10000).
EXPOSE 6379 16379
CMD ["python", "-m", "pyredis_cluster", "--bind", "0.0.0.0", "--protected-mode", "no"]
