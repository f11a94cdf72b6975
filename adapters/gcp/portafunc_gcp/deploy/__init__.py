"""What a deployment is made of: the generated main.py, deploy.sh and the requirements lock."""
