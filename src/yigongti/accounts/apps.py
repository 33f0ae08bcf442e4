from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "yigongti.accounts"
    verbose_name = "账号与权限"
