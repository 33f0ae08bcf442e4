from django.urls import include, path

from .api import api

urlpatterns = [
    path("api/v1/", api.urls),
    path("fhir/", include("yigongti.fhir.urls")),
    path("", include("yigongti.web.urls")),
]
