# The ReleaseGuard image: the operator (`releaseguard run`) and the probe runner (`releaseguard probe`).
# Not built or run by `make test` (no container engine on our CI machines); see the README.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml constraints.txt README.md ./
COPY operator ./operator
RUN python -m venv /opt/releaseguard \
 && /opt/releaseguard/bin/pip install --no-cache-dir -c constraints.txt .

FROM python:3.11-slim
COPY --from=build /opt/releaseguard /opt/releaseguard
ENV PATH=/opt/releaseguard/bin:$PATH PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
USER 65532:65532
ENTRYPOINT ["releaseguard"]
CMD ["run", "--all-namespaces"]
