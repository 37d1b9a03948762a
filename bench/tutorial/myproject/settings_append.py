
# --- The tutorial's step 6, appended to the project's settings.py by bench/bench.py ---
# Change: ALLOWED_HOSTS names the loopback address the benchmark uses.
import os

# 生产环境设置 Debug = False
DEBUG = False

# 设置ALLOWED HOSTS
ALLOWED_HOSTS = ['127.0.0.1', 'localhost']

# 设置STATIC ROOT 和 STATIC URL
STATIC_ROOT = os.path.join(BASE_DIR, 'static')
STATIC_URL = "/static/"

# 设置MEDIA ROOT 和 MEDIA URL
MEDIA_ROOT = os.path.join(BASE_DIR, 'media')
MEDIA_URL = "/media/"

# 设置数据库。这里用户名和密码必需和docker-compose.yml里mysql环境变量保持一致
DATABASES = {
    'default': {
        'ENGINE': 'django.db.backends.mysql',
        'NAME': 'myproject', # 数据库名
        'USER':'dbuser', # 你设置的用户名 - 非root用户
        'PASSWORD':'password', # # 换成你自己密码
        'HOST': 'db', # 注意：这里使用的是db别名，docker会自动解析成ip
        'PORT':'3306', # 端口
    }
}

# 设置redis缓存。这里密码为redis.conf里设置的密码
CACHES = {
    "default": {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": "redis://redis:6379/1", #这里直接使用redis别名作为host ip地址
        "OPTIONS": {
            "CLIENT_CLASS": "django_redis.client.DefaultClient",
            "PASSWORD": "yourpassword", # 换成你自己密码
        },
    }
}

# Not the tutorial's (it has no Celery): the example's tasks go to the tutorial's Redis, where, with
# no worker, they wait. Without it an upload would fail enqueuing on localhost.
CELERY_BROKER_URL = "redis://:yourpassword@redis:6379/2"
