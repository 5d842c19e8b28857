# fraudlite scoring service as an AWS Lambda container image (docs/deploy.md; `sam build` uses it).
#
# Base: the AWS Lambda Python 3.12 image (Amazon Linux 2023, glibc 2.34). Not python:3.11: that
# image is Amazon Linux 2 (glibc 2.26), and the pinned onnxruntime 1.32.0 and numpy 2.4.6 publish
# manylinux_2_28 wheels only, which it can neither install nor load. requirements/service.lock is
# verified to resolve from wheels for CPython 3.12 on manylinux_2_34 x86_64 and aarch64.
#
# Architecture: the build platform chooses it (`sam build` passes linux/arm64 when the template's
# Architecture is arm64; by hand: `docker build --platform linux/arm64 .`); pip then installs the
# aarch64 wheels that the same lock hashes.
#
# A local or mirrored base: `docker build --build-arg BASE_IMAGE=my-registry/lambda-python:3.12 .`
ARG PYTHON_VERSION=3.12
ARG BASE_IMAGE=public.ecr.aws/lambda/python:${PYTHON_VERSION}
FROM ${BASE_IMAGE}

# Image-baked model (optional): `--build-arg MODEL_FILE=artifacts/model.onnx` copies it to
# /opt/fraudlite/model.onnx and makes that the default FRAUD_MODEL_URI (the template then leaves
# FRAUD_MODEL_URI unset when ModelBucket is empty). The file must be named model.onnx.
# The lock is always copied there too: a record of what the image was built from.
ARG MODEL_FILE=""

# One ORT thread and one OpenMP thread: below 1,769 MB a function has less than one vCPU, and
# single transactions gain nothing from more threads (the service's own defaults agree).
ENV FRAUD_ORT_INTRA_OP_THREADS=1 \
    FRAUD_ORT_INTER_OP_THREADS=1 \
    OMP_NUM_THREADS=1 \
    FRAUD_MODEL_CACHE_DIR=/tmp/fraudlite-model \
    FRAUD_MODEL_URI=${MODEL_FILE:+/opt/fraudlite/model.onnx} \
    PIP_DISABLE_PIP_VERSION_CHECK=1

COPY requirements/service.lock ${MODEL_FILE} /opt/fraudlite/

# Only the locked service dependencies, by hash, from wheels (no compiler runs, none is left);
# boto3 is not in the lock because this base image ships it. No pip cache is kept.
RUN pip install --no-cache-dir --require-hashes --only-binary=:all: \
        -r /opt/fraudlite/service.lock --target "${LAMBDA_TASK_ROOT}" \
    && if [ -n "${MODEL_FILE}" ] && [ ! -f /opt/fraudlite/model.onnx ]; then \
        echo "MODEL_FILE must name a file called model.onnx" >&2; exit 1; fi

COPY service/ ${LAMBDA_TASK_ROOT}/service/

# Import the handler's dependencies once at build time: a wheel this platform cannot load fails
# the build instead of the first cold start. Then precompile service/ (read-only at run time).
RUN cd "${LAMBDA_TASK_ROOT}" \
    && python -c "import onnxruntime, numpy, starlette, mangum, msgspec, service.app" \
    && python -m compileall -q service \
    && rm -rf /root/.cache /tmp/*

CMD ["service.lambda_handler.handler"]
