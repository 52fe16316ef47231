from django.contrib.postgres.fields import ArrayField
from django.db import models


class Note(models.Model):
    text = models.TextField()
    tags = ArrayField(models.CharField(max_length=30), default=list)
    likes = models.IntegerField(default=0)
    created = models.DateTimeField(auto_now_add=True)
