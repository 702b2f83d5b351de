"""URL routes of bungeo."""
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.templatetags.static import static
from django.urls import include, path
from django.views.generic import RedirectView

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="labs:index", permanent=False)),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("labs/", include("labs.urls")),
    path("assignments/", include("exercises.urls")),
    path("sandbox/", include("webapp.sandboxes.urls")),
    path("admin/", admin.site.urls),
    # Browsers ask for /favicon.ico where a page names no icon (a sandbox's preview, the admin's
    # plain error pages): the mold-and-fish icon instead of a 404 in the log every time.
    path("favicon.ico", RedirectView.as_view(url=static("img/bungeo.svg"), permanent=True)),
]
