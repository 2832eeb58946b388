# nginx with the srcache and memc modules (Debian's packages) for the response cache of
# docs/recipes/nginx.md. Build from the repository root:
#   docker build -t ferrocache-nginx:latest -f docker/nginx.Dockerfile .
FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends nginx libnginx-mod-http-srcache-filter libnginx-mod-http-memc \
    && rm -rf /var/lib/apt/lists/* /etc/nginx/modules-enabled/*
COPY docker/nginx.conf /etc/nginx/nginx.conf
EXPOSE 80
CMD ["nginx", "-g", "daemon off;"]
