"""The files ``portafunc package --target container`` writes: the image's Dockerfile and one set of manifests per
platform (Cloud Run, Azure Container Apps, Knative). Each module turns the app's resource model into one of them."""
